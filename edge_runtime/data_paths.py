"""Where the third-party data set lives.

The data in ``../shared/data`` is never copied into the project; every reader asks
this module for the folder. ``EDGE_RUNTIME_DATA`` overrides the default, which is the
``shared/data`` folder beside (or above) the checkout or the current directory.
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "EDGE_RUNTIME_DATA"


def shared_data_dir() -> Path | None:
    """The shared data folder, or ``None`` when it is absent on this machine."""
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override).expanduser()
        return path if path.is_dir() else None
    starts = [Path.cwd(), Path(__file__).resolve().parent]
    for start in starts:
        for parent in [start, *start.parents]:
            candidate = parent / "shared" / "data"
            if candidate.is_dir():
                return candidate
            sibling = parent.parent / "shared" / "data"
            if sibling.is_dir():
                return sibling
    return None


def require_shared_data(subdir: str = "") -> Path:
    """The shared data (sub)folder, or a clear error saying how to point at it."""
    root = shared_data_dir()
    if root is None or not (root / subdir).exists():
        raise FileNotFoundError(
            f"shared data folder {'shared/data/' + subdir if subdir else 'shared/data'} not found; "
            f"set {ENV_VAR}=/path/to/shared/data")
    return root / subdir
