"""Cloud side of the edge runtime: protocol, coordinator, FL, OTA, dashboard."""
