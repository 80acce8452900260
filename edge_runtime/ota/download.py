"""Chunked, resumable download of a model artifact to a ``.part`` file.

The ``.part`` file *is* the progress record: after a crash or reboot the next attempt asks
for ``Range: bytes=<size of .part>-`` and appends. A server that ignores ranges (answers
200) or a part larger than expected makes us start over from zero, never splice
mismatched bytes. Each chunk is flushed and fsynced so the part on disk is a true prefix.
Integrity is *not* judged here: the verifier hashes the finished file.
"""
from __future__ import annotations

import os
import shutil
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

CHUNK_BYTES = 64 * 1024
TIMEOUT_S = 30


class DownloadError(RuntimeError):
    """The artifact could not be fetched (the job may retry)."""


class DownloadCancelled(DownloadError):
    """Stopped on request (agent shutting down); the part is kept for resuming."""


def _open(url: str, offset: int, headers: dict[str, str]):
    """A readable stream positioned at ``offset`` and whether the server honoured it."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        handle = open(urllib.request.url2pathname(parsed.path), "rb")
        handle.seek(offset)
        return handle, True
    if parsed.scheme not in ("http", "https"):
        raise DownloadError(f"unsupported URL scheme in {url!r}: use http(s):// or file://")
    request = urllib.request.Request(url, headers=dict(headers))
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    return response, (offset == 0 or response.status == 206)


def fetch_resumable(url: str, part: Path, size: int, *, headers: dict[str, str] | None = None,
                    chunk_bytes: int = CHUNK_BYTES,
                    progress: Callable[[int, int], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> Path:
    """Complete ``part`` up to ``size`` bytes from ``url`` and return it.

    ``progress(done, size)`` is called after each chunk; ``should_stop()`` returning true
    raises DownloadCancelled with the part kept.
    """
    part = Path(part)
    part.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.exists() else 0
    if offset > size:
        offset = 0                                     # stale part of another artifact
    if offset == size:
        return part
    try:
        stream, resumed = _open(url, offset, headers or {})
    except OSError as exc:
        raise DownloadError(f"cannot fetch {url}: {exc}") from exc
    if not resumed:
        offset = 0
    with stream, open(part, "r+b" if offset else "wb") as out:
        out.seek(offset)
        out.truncate()
        done = offset
        while done < size:
            if should_stop and should_stop():
                raise DownloadCancelled(f"download of {url} stopped at {done}/{size} bytes")
            try:
                chunk = stream.read(min(chunk_bytes, size - done))
            except OSError as exc:
                raise DownloadError(f"connection lost after {done}/{size} bytes of {url}: {exc}") from exc
            if not chunk:
                raise DownloadError(f"{url} ended after {done} of {size} bytes")
            out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
            done += len(chunk)
            if progress:
                progress(done, size)
    return part


def free_space_ok(folder: Path, needed: int, margin: int = 16 << 20) -> bool:
    """Enough room for the artifact plus a margin, so a download never fills the SD card."""
    folder.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(folder).free >= needed + margin
