"""Profiles of real boards and detection of the board we run on.

    import device_profiles
    device_profiles.load_profile("raspberry-pi-4b-4gb").ram_bytes   # 4294967296
    device_profiles.detect()                 # this board's Profile (or a generated host profile)
    device_profiles.detect_profile("/")      # Detection(profile, matched_id, reason, facts)
"""
from device_profiles.loader import all_profiles, list_profiles, load_profile, load_profile_file
from device_profiles.schema import Accelerator, Backends, Profile, ProfileError, parse_quantity
# Imported eagerly so that the function below, not the submodule, stays bound to the name
# `device_profiles.detect` (importing a submodule later would otherwise rebind it).
from device_profiles import detect as _detect_module
from device_profiles.detect import detect_profile


def detect(root="/") -> Profile:
    """The profile of the board below ``root`` (the real host by default)."""
    return _detect_module.detect_profile(root).profile


__all__ = ["Accelerator", "Backends", "Profile", "ProfileError", "all_profiles", "detect", "detect_profile",
           "list_profiles", "load_profile", "load_profile_file", "parse_quantity"]
