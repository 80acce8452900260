"""OpenAPI 3.1 document and a readable /docs page, both made from the server's route table.

Generated, not written: a route mounted by any concern (SPARQL, OTA, metrics) shows up
with its method, summary and whether it needs the write token. The page is plain HTML
with no script and no CDN (the coordinator may run where nothing outside is reachable).
"""
from __future__ import annotations

import html
import re
from typing import Any, Iterable

TITLE = "edge-runtime coordinator"
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def _openapi_path(path: str) -> str:
    return _PARAM.sub(r"{\1}", path)


def document(routes: Iterable[Any], title: str = TITLE) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path = _openapi_path(route.path)
        operation: dict[str, Any] = {"summary": route.summary, "responses": {
            "200": {"description": "OK"}, "400": {"description": "bad request (the reason in the body)"}}}
        params = _PARAM.findall(route.path)
        if params:
            operation["parameters"] = [{"name": name, "in": "path", "required": True,
                                        "schema": {"type": "string"}} for name in params]
        if route.needs_token:
            operation["security"] = [{"bearer": []}]
            operation["responses"]["401"] = {"description": "missing or wrong write token"}
        if route.method in ("POST", "PUT", "PATCH"):
            operation["responses"]["413"] = {"description": "request body over the limit"}
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {"openapi": "3.1.0", "info": {"title": title, "version": "1"},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "paths": paths}


def page(routes: Iterable[Any], title: str = TITLE) -> str:
    rows = "".join(
        f"<tr><td><code>{html.escape(r.method)}</code></td><td><code>{html.escape(r.path)}</code></td>"
        f"<td>{html.escape(r.summary)}</td><td>{'token' if r.needs_token else ''}</td></tr>"
        for r in sorted(routes, key=lambda r: (r.path, r.method)))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)} API</title>"
            "<style>body{font-family:sans-serif;margin:2em}td{padding:.2em 1em;border-bottom:1px solid #ddd}"
            "</style></head><body>"
            f"<h1>{html.escape(title)} API</h1><p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>. "
            "Writes need <code>Authorization: Bearer &lt;token&gt;</code> "
            "(<code>cloud-sync credentials token NAME</code>).</p>"
            f"<table><tr><th>method</th><th>path</th><th>what</th><th>auth</th></tr>{rows}</table>"
            "</body></html>")
