"""Serves registry artifacts to devices over HTTP with Range support (resumable downloads).

``GET /models/<name>/<version>/model.<fmt>``; ``Range: bytes=N-`` answers 206 with the
tail. Runs on the coordinator's ASGI stack (``cloud_sync.dashboard.http_app``: uvicorn's
parser refuses malformed requests); the file is streamed in blocks from a worker thread,
paced to ``rate_bps`` per download. Artifacts are public within the fleet network by design: integrity and origin come
from the signed manifest, not from the transport; put it behind TLS/a token where the
models themselves are confidential (``token`` makes every request need
``Authorization: Bearer <token>``).
"""
from __future__ import annotations

import asyncio
import hmac
import re
import time
from collections import deque
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import StreamingResponse

from cloud_sync.dashboard.http_app import AppServer

_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_FILE_RE = re.compile(r"^model\.(?:onnx|tflite)$")
_RANGE_RE = re.compile(r"^bytes=(\d+)-$")
BLOCK = 64 * 1024


class ArtifactServer:
    """``ArtifactServer(models_root, port=0).start()``; ``.url_for(manifest)`` gives the device URL."""

    def __init__(self, models_root: Path, host: str = "127.0.0.1", port: int = 0,
                 public_host: str | None = None, token: str | None = None, rate_bps: float | None = None):
        self.models_root = Path(models_root)
        self.token = token
        self.rate_bps = rate_bps      # per download; keeps a fleet roll-out from saturating the uplink
        self.requests: deque[tuple[str, str | None]] = deque(maxlen=1000)   # (path, Range) recent requests
        self.http = AppServer(host, port, title="model artifacts")
        self.http.add_route("/models/{name}/{version}/{filename}", self._download,
                            summary="a model artifact (Range: bytes=N- resumes)")
        self.public_host = public_host or host

    @property
    def port(self) -> int:
        return self.http.server_address[1]

    def url_for(self, manifest) -> str:
        return f"http://{self.public_host}:{self.port}/models/{manifest.name}/{manifest.version}/{manifest.filename}"

    def start(self) -> "ArtifactServer":
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()

    async def _download(self, request: Request) -> StreamingResponse:
        """The artifact, whole (200) or from a byte offset (206)."""
        wanted_range = request.headers.get("range")
        self.requests.append((request.url.path, wanted_range))
        if self.token and not hmac.compare_digest(request.headers.get("authorization", ""),
                                                  f"Bearer {self.token}"):
            raise HTTPException(401, "token required")
        name, version, filename = (request.path_params[k] for k in ("name", "version", "filename"))
        file = self.models_root / name / version / filename
        if not (_NAME_RE.match(name) and _NAME_RE.match(version) and _FILE_RE.match(filename)) \
                or not file.is_file():
            raise HTTPException(404, "no such model artifact")
        size = file.stat().st_size
        wanted = _RANGE_RE.match(wanted_range or "")
        start = int(wanted.group(1)) if wanted else 0
        if start >= size and wanted:
            raise HTTPException(416, "range beyond the artifact")
        headers = {"Content-Length": str(size - start), "Accept-Ranges": "bytes"}
        if wanted:
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        return StreamingResponse(self._blocks(file, start), 206 if wanted else 200, headers,
                                 media_type="application/octet-stream")

    async def _blocks(self, file: Path, start: int):
        handle = await run_in_threadpool(open, file, "rb")
        try:
            await run_in_threadpool(handle.seek, start)
            began, sent = time.monotonic(), 0
            while block := await run_in_threadpool(handle.read, BLOCK):
                yield block
                sent += len(block)
                if self.rate_bps:
                    await asyncio.sleep(max(0.0, sent / self.rate_bps - (time.monotonic() - began)))
        finally:
            handle.close()
