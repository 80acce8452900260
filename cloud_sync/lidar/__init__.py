"""Cloud side of LiDAR tracking: embedding training, transit-time model, global linking."""
