"""Secret files written the one safe way: mode 0600 from creation, replaced atomically.

Creating with ``os.open(..., 0o600)`` (not ``write_text`` then ``chmod``) means there is no
moment in which another local user could read the file; writing a temp file and
``os.replace``-ing it means a reader (the broker on SIGHUP) never sees half a file.
"""
from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path | str, text: str) -> Path:
    """Write ``text`` to ``path`` with mode 0600, atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)                 # O_CREAT's mode applies only to a new file
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)
    return path
