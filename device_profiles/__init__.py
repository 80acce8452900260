"""Profiles of real boards and detection of the board we run on.

    from device_profiles import load_profile, list_profiles, detect
    load_profile("raspberry-pi-4b-4gb").ram_bytes   # 4294967296
"""
from device_profiles.loader import all_profiles, list_profiles, load_profile, load_profile_file
from device_profiles.schema import Accelerator, Backends, Profile, ProfileError, parse_quantity

__all__ = ["Accelerator", "Backends", "Profile", "ProfileError", "all_profiles", "list_profiles",
           "load_profile", "load_profile_file", "parse_quantity", "detect"]


def detect(root="/"):
    """The profile of the board this runs on (see device_profiles.detect)."""
    from device_profiles.detect import detect_profile
    return detect_profile(root).profile
