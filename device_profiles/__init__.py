"""Profiles of real boards and detection of the board we run on."""
