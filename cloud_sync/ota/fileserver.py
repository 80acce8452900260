"""Serves registry artifacts to devices over HTTP with Range support (resumable downloads).

``GET /models/<name>/<version>/model.<fmt>``; ``Range: bytes=N-`` answers 206 with the
tail. Artifacts are public within the fleet network by design: integrity and origin come
from the signed manifest, not from the transport; put it behind TLS/a token where the
models themselves are confidential (``token`` makes every request need
``Authorization: Bearer <token>``).
"""
from __future__ import annotations

import hmac
from collections import deque
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_PATH_RE = re.compile(r"^/models/([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)/(model\.(?:onnx|tflite))$")
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
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                if server.token and not hmac.compare_digest(
                        self.headers.get("Authorization", ""), f"Bearer {server.token}"):
                    return self.send_error(401, "token required")
                match = _PATH_RE.match(self.path)
                file = server.models_root.joinpath(*match.groups()) if match else None
                if file is None or not file.is_file():
                    return self.send_error(404, "no such model artifact")
                size = file.stat().st_size
                start = 0
                wanted = _RANGE_RE.match(self.headers.get("Range", ""))
                if wanted:
                    start = int(wanted.group(1))
                    if start >= size:
                        return self.send_error(416, "range beyond the artifact")
                self.send_response(206 if wanted else 200)
                self.send_header("Content-Length", str(size - start))
                self.send_header("Accept-Ranges", "bytes")
                if wanted:
                    self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
                self.end_headers()
                with open(file, "rb") as handle:
                    handle.seek(start)
                    began, sent = time.monotonic(), 0
                    try:
                        for block in iter(lambda: handle.read(BLOCK), b""):
                            self.wfile.write(block)
                            sent += len(block)
                            if server.rate_bps:
                                time.sleep(max(0.0, sent / server.rate_bps - (time.monotonic() - began)))
                    except (BrokenPipeError, ConnectionResetError):
                        pass                                   # the device went away mid-download

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.public_host = public_host or host
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url_for(self, manifest) -> str:
        return f"http://{self.public_host}:{self.port}/models/{manifest.name}/{manifest.version}/{manifest.filename}"

    def start(self) -> "ArtifactServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="ota-artifacts", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
