"""Finding and loading board files from `device_profiles/boards/*.yaml`.

A profile id is the file's stem and must equal the `id` field inside, so a renamed file
cannot silently shadow another board. Loaded profiles are cached: they are read-only data.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from device_profiles.schema import Profile, ProfileError, profile_from_mapping

BOARDS_DIR = Path(__file__).resolve().parent / "boards"


def load_profile_file(path: str | Path) -> Profile:
    """Parse and validate one YAML board file; every error names the file and the field."""
    path = Path(path)
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(source, "-", "file not found") from None
    except yaml.YAMLError as exc:
        raise ProfileError(source, "-", f"not valid YAML: {exc}") from None
    profile = profile_from_mapping(data, source)
    if path.stem != profile.id:
        raise ProfileError(source, "id", f"id {profile.id!r} must equal the file name {path.stem!r}")
    return profile


@lru_cache(maxsize=None)
def _load_builtin(profile_id: str) -> Profile:
    return load_profile_file(BOARDS_DIR / f"{profile_id}.yaml")


def list_profiles() -> list[str]:
    """Ids of the built-in boards, sorted."""
    return sorted(p.stem for p in BOARDS_DIR.glob("*.yaml"))


def load_profile(name: str) -> Profile:
    """A built-in profile by id, or a board file by path (anything ending in .yaml/.yml)."""
    if name.endswith((".yaml", ".yml")):
        return load_profile_file(name)
    if name not in list_profiles():
        raise KeyError(f"unknown device profile {name!r}; known: {', '.join(list_profiles())} "
                       f"(or pass the path of a .yaml board file)")
    return _load_builtin(name)


def all_profiles() -> list[Profile]:
    return [load_profile(name) for name in list_profiles()]
