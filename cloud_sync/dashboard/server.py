"""The coordinator's HTTP face: dashboard page, JSON API, live events, SPARQL endpoint.

Standard library only (``ThreadingHTTPServer``): the dashboard needs no build step and no
web framework on the cloud box. Routes are data — ``routes`` maps a method and a path
prefix to a handler — so other concerns (the SPARQL endpoint, OTA's write API) mount
their own handlers without this module knowing them.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable

from cloud_sync.dashboard.live_feed import LiveFeed

log = logging.getLogger(__name__)

# (status, headers, body) — the shape every route handler returns.
Response = tuple[int, dict[str, str], bytes]
RouteHandler = Callable[[str, str, dict[str, str], bytes], Response]

MAX_BODY_BYTES = 1 << 20
STATIC_FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
                "style.css": "text/css; charset=utf-8"}


def jsonable(value: Any) -> Any:
    """JSON for numpy arrays/scalars that arrive in CBOR results."""
    tolist = getattr(value, "tolist", None)
    return tolist() if tolist else str(value)


def json_response(body: Any, status: int = 200) -> Response:
    return status, {"Content-Type": "application/json"}, json.dumps(body, default=jsonable).encode()


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


class DashboardServer:
    """Serves the dashboard on ``host:port`` (port 0 picks a free one) in a background thread."""

    def __init__(self, api: dict[str, Callable[[str], Any]], hub: LiveFeed,
                 host: str = "127.0.0.1", port: int = 0,
                 authorise: Callable[[dict[str, str]], bool] | None = None):
        self.api = api                # "/api/fleet" -> fn(rest_of_path) -> JSON-able
        self.hub = hub
        self.authorise = authorise or (lambda headers: False)   # writes are refused by default
        self.routes: list[tuple[str, str, RouteHandler, bool]] = []
        self._stop = threading.Event()
        self.httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self.httpd.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def mount(self, method: str, prefix: str, handler: RouteHandler, needs_token: bool = False) -> None:
        """Route ``method`` requests whose path starts with ``prefix`` to ``handler``."""
        self.routes.append((method, prefix, handler, needs_token))

    def start(self) -> "DashboardServer":
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="dashboard", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------ request handling
    def dispatch(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        route_path = path.split("?", 1)[0]
        for route_method, prefix, handler, needs_token in self.routes:
            if method == route_method and route_path.startswith(prefix):
                if needs_token and not self.authorise(headers):
                    return error_response(401, "this write needs 'Authorization: Bearer <token>' "
                                               "(see 'cloud-sync credentials --help')")
                return handler(method, path, headers, body)
        if method != "GET":
            return error_response(405, f"{method} is not allowed on {route_path}")
        if route_path in ("/", "/index.html"):
            return self._static("index.html")
        if route_path.startswith("/static/"):
            return self._static(route_path.removeprefix("/static/"))
        for prefix, view in self.api.items():
            if route_path == prefix or route_path.startswith(prefix + "/"):
                try:
                    return json_response(view(route_path.removeprefix(prefix).lstrip("/")))
                except KeyError as exc:
                    return error_response(404, f"not found: {exc.args[0]}")
        return error_response(404, f"no such page: {route_path}")

    @staticmethod
    def _static(name: str) -> Response:
        if name not in STATIC_FILES:
            return error_response(404, f"no such file: {name}")
        data = resources.files("cloud_sync.dashboard").joinpath("static", name).read_bytes()
        return 200, {"Content-Type": STATIC_FILES[name], "Cache-Control": "no-cache"}, data

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # route access logs to logging, not stderr
                log.debug("%s " + fmt, self.address_string(), *args)

            def _respond(self, response: Response) -> None:
                status, headers, body = response
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self, method: str) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                length = int(headers.get("content-length", "0") or 0)
                if length > MAX_BODY_BYTES:
                    self._respond(error_response(413, f"request body of {length} bytes is over "
                                                      f"the {MAX_BODY_BYTES}-byte limit"))
                    return
                body = self.rfile.read(length) if length else b""
                if method == "GET" and self.path.split("?")[0] == "/api/events":
                    self._stream_events()
                    return
                try:
                    self._respond(server.dispatch(method, self.path, headers, body))
                except Exception as exc:  # a bad view must not kill the server
                    log.exception("error serving %s %s", method, self.path)
                    self._respond(error_response(500, f"{type(exc).__name__}: {exc}"))

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def _stream_events(self) -> None:
                q = server.hub.subscribe()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Cache-Control", "no-cache")
                    self.end_headers()
                    self.wfile.write(b"retry: 2000\n\n")
                    self.wfile.flush()
                    while not server._stop.is_set():
                        try:
                            event = q.get(timeout=10)
                            data = f"data: {json.dumps(event, default=jsonable)}\n\n"
                        except queue.Empty:
                            data = ": keep-alive\n\n"
                        self.wfile.write(data.encode())
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    server.hub.unsubscribe(q)
                    self.close_connection = True

        return Handler
