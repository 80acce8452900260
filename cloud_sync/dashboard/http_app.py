"""One ASGI HTTP stack for everything the coordinator serves: Starlette routes on uvicorn.

Why a framework: the hand-written ``http.server`` handlers answered ``Content-Length: abc``
with a traceback and held a thread forever on ``Content-Length: -1`` (issue 15). uvicorn's
h11 parser refuses malformed requests with a 400 before any of our code runs; what h11 cannot
know is enforced here: a body limit (413), a deadline for the body to arrive (408), and the
write token, checked by one dependency (``require_token``) for every route that changes state.

Routes are data. ``mount(method, prefix, handler)`` takes the plain handlers other concerns
already have (``handler(method, path_qs, headers, body) -> (status, headers, bytes)``, run in
a worker thread: SPARQL, OTA); ``add_route(path, endpoint)`` takes a native Starlette endpoint
(``async def endpoint(request) -> Response``), e.g. a Prometheus ``/metrics``::

    server.add_route("/metrics", metrics_endpoint, summary="Prometheus metrics")

Every route appears in ``/openapi.json`` and on the ``/docs`` page.
"""
from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response as HttpResponse
from starlette.routing import Route

from cloud_sync.dashboard import openapi

log = logging.getLogger(__name__)

# (status, headers, body) — the shape every mounted handler returns.
Response = tuple[int, dict[str, str], bytes]
RouteHandler = Callable[[str, str, dict[str, str], bytes], Response]
Endpoint = Callable[[Request], Awaitable[HttpResponse]]

MAX_BODY_BYTES = 1 << 20
MAX_HEADER_BYTES = 16 * 1024  # all request headers together (431 past it)
MAX_TARGET_BYTES = 8 * 1024   # path + query string (414 past it)
BODY_TIMEOUT_S = 5.0          # a client announcing a body must send it within this
HEAD_TIMEOUT_S = 10.0         # a connection must deliver a complete request head within this
KEEP_ALIVE_S = 5


def jsonable(value: Any) -> Any:
    """JSON for numpy arrays/scalars that arrive in CBOR results."""
    tolist = getattr(value, "tolist", None)
    return tolist() if tolist else str(value)


def json_response(body: Any, status: int = 200) -> Response:
    return status, {"Content-Type": "application/json"}, json.dumps(body, default=jsonable).encode()


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


class HeadLimits:
    """ASGI middleware: 414 for an over-long request target, 431 for over-large headers.

    h11 bounds only a head still arriving in pieces; one that comes in a single read of any
    size would reach the routes (a 100 KB header was answered 200 before this)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
            head = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if target > MAX_TARGET_BYTES or head > MAX_HEADER_BYTES:
                status, what = (414, f"request target over {MAX_TARGET_BYTES} bytes") \
                    if target > MAX_TARGET_BYTES else (431, f"request headers over {MAX_HEADER_BYTES} bytes")
                await JSONResponse({"error": what}, status)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class HeadDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol plus a deadline for the request head.

    uvicorn times out idle keep-alive connections but not one that never completes its head
    (measured: a connection sending nothing, or half a head, was held for as long as the
    client liked), so a few hundred such connections would use up ``limit_concurrency``.
    Here a connection waiting for a head closes after HEAD_TIMEOUT_S."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._waiting_for_head():
            self._arm_head_deadline()
        elif self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_lost(self, exc) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _waiting_for_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_head_deadline(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_deadline_passed)

    def _head_deadline_passed(self) -> None:
        self._head_timer = None
        if self._waiting_for_head() and not self.transport.is_closing():
            self.transport.close()


@dataclass(frozen=True)
class RouteInfo:
    """One entry of the route table (what /openapi.json describes)."""

    method: str
    path: str
    summary: str
    needs_token: bool = False


class AppServer:
    """Routes on uvicorn at ``host:port`` (port 0 picks a free one), in a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 authorise: Callable[[dict[str, str]], bool] | None = None,
                 max_body: int = MAX_BODY_BYTES, body_timeout_s: float = BODY_TIMEOUT_S,
                 title: str = openapi.TITLE):
        self.authorise = authorise or (lambda headers: False)   # writes are refused by default
        self.max_body = max_body
        self.body_timeout_s = body_timeout_s
        self.title = title
        self.table: list[RouteInfo] = []
        self._stop = threading.Event()
        self.app = Starlette(exception_handlers={HTTPException: self._http_error,
                                                 Exception: self._server_error})
        self._socket = socket.create_server((host, port))
        self._server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.add_route("/openapi.json", self._openapi, summary="this API as OpenAPI 3.1")
        self.add_route("/docs", self._docs, summary="this API, readable")

    @property
    def server_address(self) -> tuple[str, int]:
        return self._socket.getsockname()[:2]

    @property
    def url(self) -> str:
        host, port = self.server_address
        return f"http://{host}:{port}/"

    # ------------------------------------------------------------------ the route table
    def add_route(self, path: str, endpoint: Endpoint, methods: tuple[str, ...] = ("GET",),
                  summary: str = "", needs_token: bool = False) -> None:
        """A native Starlette endpoint at ``path`` (Starlette path syntax: ``/x/{name}``)."""
        if needs_token:
            endpoint = self._guarded(endpoint)
        self.app.router.routes.append(Route(path, endpoint, methods=list(methods)))
        self.table.extend(RouteInfo(m, path, summary or (endpoint.__doc__ or "").strip(), needs_token)
                          for m in methods)

    def mount(self, method: str, prefix: str, handler: RouteHandler, needs_token: bool = False,
              summary: str = "") -> None:
        """Route ``method`` requests for ``prefix`` and anything below it to a plain ``handler``."""
        async def endpoint(request: Request) -> HttpResponse:
            body = await self.read_body(request)
            path_qs = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            status, headers, payload = await run_in_threadpool(
                handler, request.method, path_qs, dict(request.headers), body)
            return HttpResponse(payload, status, headers)
        summary = summary or (handler.__doc__ or "").strip().split("\n")[0] or f"{method} {prefix}"
        for path in (prefix, prefix.rstrip("/") + "/{rest:path}"):
            self.add_route(path, endpoint, (method,), summary, needs_token)

    # ------------------------------------------------------------------ shared request pieces
    async def require_token(self, request: Request) -> None:
        """The one write-access check: a valid ``Authorization: Bearer <token>`` or 401."""
        if not await run_in_threadpool(self.authorise, dict(request.headers)):
            raise HTTPException(401, "this write needs 'Authorization: Bearer <token>' "
                                     "(see 'cloud-sync credentials --help')")

    def _guarded(self, endpoint: Endpoint) -> Endpoint:
        async def guarded(request: Request) -> HttpResponse:
            await self.require_token(request)
            return await endpoint(request)
        guarded.__doc__ = endpoint.__doc__
        return guarded

    async def read_body(self, request: Request) -> bytes:
        """The request body, at most ``max_body`` bytes (413), within ``body_timeout_s`` (408)."""
        declared = request.headers.get("content-length")
        if declared is not None and int(declared) > self.max_body:   # h11 has checked the digits
            raise HTTPException(413, f"request body of {declared} bytes is over the "
                                     f"{self.max_body}-byte limit")

        async def collect() -> bytes:
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body:
                    raise HTTPException(413, f"request body over the {self.max_body}-byte limit")
                chunks.append(chunk)
            return b"".join(chunks)
        try:
            return await asyncio.wait_for(collect(), self.body_timeout_s)
        except asyncio.TimeoutError:
            raise HTTPException(408, f"the request body did not arrive within "
                                     f"{self.body_timeout_s:g} s") from None

    @staticmethod
    async def _http_error(request: Request, exc: HTTPException) -> HttpResponse:
        if exc.status_code == 405:
            return JSONResponse({"error": f"{request.method} is not allowed on {request.url.path}"}, 405)
        if exc.status_code == 404:
            return JSONResponse({"error": f"no such page: {request.url.path}"}, 404)
        return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)

    @staticmethod
    async def _server_error(request: Request, exc: Exception) -> HttpResponse:
        log.error("error serving %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, 500)

    async def _openapi(self, request: Request) -> HttpResponse:
        return JSONResponse(openapi.document(self.table, self.title))

    async def _docs(self, request: Request) -> HttpResponse:
        return HTMLResponse(openapi.page(self.table, self.title))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "AppServer":
        config = uvicorn.Config(HeadLimits(self.app), log_config=None, access_log=False, lifespan="off",
                                ws="none", http=HeadDeadlineProtocol, timeout_keep_alive=KEEP_ALIVE_S,
                                timeout_graceful_shutdown=2, limit_concurrency=200)
        self._server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                       name="dashboard", daemon=True)
        self.thread.start()
        while not self._server.started and self.thread.is_alive():
            self._stop.wait(0.01)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.should_exit = True
        if self.thread is not None:
            self.thread.join(10)
        self._socket.close()

    def shutdown(self) -> None:          # the name http.server used (callers of start_server)
        self.stop()

    def serve_forever(self) -> None:
        """Start and block until interrupted (for command-line servers)."""
        self.start()
        try:
            while self.thread.is_alive():
                self.thread.join(1.0)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
