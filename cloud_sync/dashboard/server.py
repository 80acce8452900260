"""The coordinator's HTTP face: dashboard page, JSON API, live events (server-sent events via
sse-starlette), on the shared ASGI stack (``cloud_sync.dashboard.http_app``: Starlette + uvicorn,
body limits, one token dependency, OpenAPI at /docs). Other concerns mount their own routes:
the SPARQL endpoint, OTA's write API, metrics. The dashboard itself is three static files:
no build step, no CDN.
"""
from __future__ import annotations

import asyncio
import json
import queue
from importlib import resources
from typing import Any, Callable

from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response as HttpResponse

from cloud_sync.dashboard.http_app import (MAX_BODY_BYTES, BODY_TIMEOUT_S, AppServer, Endpoint,  # noqa: F401
                                           Response, RouteHandler, error_response, json_response,
                                           jsonable)
from cloud_sync.dashboard.live_feed import LiveFeed

STATIC_FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
                "charts.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8",
                "favicon.svg": "image/svg+xml",
                # vendored charting library (uPlot, MIT: uplot.LICENSE, VENDORED.md)
                "uplot.iife.min.js": "text/javascript; charset=utf-8", "uplot.min.css": "text/css; charset=utf-8",
                "uplot.LICENSE": "text/plain; charset=utf-8"}


class DashboardServer(AppServer):
    """Serves the dashboard on ``host:port`` (port 0 picks a free one) in a background thread."""

    def __init__(self, api: dict[str, Callable[[str], Any]], hub: LiveFeed,
                 host: str = "127.0.0.1", port: int = 0,
                 authorise: Callable[[dict[str, str]], bool] | None = None,
                 max_body: int = MAX_BODY_BYTES, body_timeout_s: float = BODY_TIMEOUT_S):
        super().__init__(host, port, authorise, max_body, body_timeout_s)
        self.api = api                # "/api/fleet" -> fn(rest_of_path) -> JSON-able
        self.hub = hub
        self._add_builtin_routes()

    def _add_builtin_routes(self) -> None:
        self.add_route("/", self._index, summary="the dashboard page")
        self.add_route("/index.html", self._index, summary="the dashboard page")
        self.add_route("/favicon.ico", self._favicon, summary="the dashboard's icon")
        self.add_route("/static/{name}", self._static, summary="dashboard scripts and styles")
        self.add_route("/api/events", self._events, summary="live fleet events (text/event-stream)")
        for prefix, view in self.api.items():
            endpoint = self._view_endpoint(view)
            self.add_route(prefix, endpoint, summary=(view.__doc__ or prefix).strip().split("\n")[0])
            self.add_route(prefix + "/{rest:path}", endpoint, summary=f"{prefix}/<id>")

    # ------------------------------------------------------------------ built-in endpoints
    async def _index(self, request: Request) -> HttpResponse:
        return self._static_file("index.html")

    async def _favicon(self, request: Request) -> HttpResponse:
        return self._static_file("favicon.svg")

    async def _static(self, request: Request) -> HttpResponse:
        return self._static_file(request.path_params["name"])

    @staticmethod
    def _static_file(name: str) -> HttpResponse:
        if name not in STATIC_FILES:
            raise HTTPException(404)
        data = resources.files("cloud_sync.dashboard").joinpath("static", name).read_bytes()
        return HttpResponse(data, 200, {"Cache-Control": "no-cache"}, media_type=STATIC_FILES[name])

    @staticmethod
    def _view_endpoint(view: Callable[[str], Any]) -> Endpoint:
        async def endpoint(request: Request) -> HttpResponse:
            try:
                body = await run_in_threadpool(view, request.path_params.get("rest", ""))
            except KeyError as exc:
                return JSONResponse({"error": f"not found: {exc.args[0]}"}, 404)
            return HttpResponse(json.dumps(body, default=jsonable), 200, media_type="application/json")
        return endpoint

    async def _events(self, request: Request) -> HttpResponse:
        feed = self.hub.subscribe()

        async def stream():
            try:
                yield ServerSentEvent(comment="connected", retry=2000)
                while not self._stop.is_set():
                    try:
                        event = feed.get_nowait()
                    except queue.Empty:
                        await asyncio.sleep(0.1)
                        continue
                    yield ServerSentEvent(data=json.dumps(event, default=jsonable))
            finally:
                self.hub.unsubscribe(feed)
        return EventSourceResponse(stream(), ping=10, headers={"Cache-Control": "no-cache"})

