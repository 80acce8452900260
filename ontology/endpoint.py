"""SPARQL 1.1 Protocol endpoint (`/sparql`): a plain handler any server mounts, and a standalone server.

`SparqlEndpoint(store, update_token).handle(method, path_qs, headers, body)` returns
`(status, headers, body_bytes)`; the coordinator's dashboard mounts it, `serve()` runs it alone
(both on the ASGI stack of cloud_sync.dashboard.http_app).
Query via GET ?query=, POST form (query=…), or POST application/sparql-query; results as SPARQL
JSON (default) or CSV by Accept header (or ?format=json|csv); CONSTRUCT/DESCRIBE as N-Triples.
Bad input gets a status and a sentence, never a stack trace: malformed SPARQL → 400 with the
parser's message and line/column; over a size limit (bytes, nesting, terms: ontology.query_limits)
→ 400 naming the limit, before any engine sees it; past the time limit → 503; a worker that
crashed on the query → 500 (with ``pool``, queries run in ontology.query_pool's worker
processes, so a crash costs a worker, not the server); updates only with the bearer token.
"""
from __future__ import annotations

import hmac
import logging
from typing import Mapping
from urllib.parse import parse_qs, urlsplit

from ontology.query_limits import QueryTooLarge, check_query
from ontology.query_pool import QueryFailed
from ontology.store import QueryTimeout, QueryTooExpensive, SparqlSyntaxError, StoreUnavailable, UpdateRefused

log = logging.getLogger(__name__)
PATH = "/sparql"
MAX_BODY = 1 << 20

Response = tuple[int, dict[str, str], bytes]


def _text(status: int, message: str, extra: Mapping[str, str] | None = None) -> Response:
    return status, {"Content-Type": "text/plain; charset=utf-8", **(extra or {})}, (message + "\n").encode()


def _wants_csv(accept: str, fmt: str | None) -> bool:
    if fmt:
        return fmt.lower() == "csv"
    accept = accept.lower()
    return "text/csv" in accept and "json" not in accept.split("text/csv")[0]


class SparqlEndpoint:
    def __init__(self, store, update_token: str | None = None, timeout_s: float = 10.0, pool=None):
        self.store = store
        self.update_token = update_token
        self.timeout_s = timeout_s
        self.pool = pool      # an ontology.query_pool.QueryPool over the same graph, or None

    def handle(self, method: str, path_qs: str, headers: Mapping[str, str], body: bytes | None) -> Response:
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        parts = urlsplit(path_qs)
        if parts.path.rstrip("/") != PATH:
            return _text(404, f"not found: the SPARQL endpoint is at {PATH}")
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body = body or b""
        if len(body) > MAX_BODY:
            return _text(413, f"request body over {MAX_BODY} bytes")
        if method == "GET":
            if "update" in params:
                return _text(405, "updates must be sent with POST", {"Allow": "POST"})
            if not params.get("query"):
                return _text(400, "missing 'query' parameter: GET /sparql?query=SELECT…")
            return self._query(params["query"], headers, params.get("format"))
        if method != "POST":
            return _text(405, f"method {method} not allowed: use GET or POST", {"Allow": "GET, POST"})
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        text = body.decode("utf-8", errors="replace")
        if ctype == "application/x-www-form-urlencoded":
            form = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
            if form.get("update"):
                return self._update(form["update"], headers)
            if form.get("query"):
                return self._query(form["query"], headers, params.get("format"))
            return _text(400, "form body needs a 'query' or 'update' field")
        if ctype == "application/sparql-query":
            return self._query(text, headers, params.get("format"))
        if ctype == "application/sparql-update":
            return self._update(text, headers)
        return _text(415, "use Content-Type application/sparql-query, application/sparql-update or "
                          "application/x-www-form-urlencoded")

    def _query(self, sparql: str, headers: Mapping[str, str], fmt: str | None) -> Response:
        fmt = "csv" if _wants_csv(headers.get("accept", ""), fmt) else "json"
        evaluator = self.pool or self.store
        try:
            check_query(sparql)
            content_type, payload = evaluator.query_document(sparql, fmt, timeout_s=self.timeout_s)
        except (SparqlSyntaxError, QueryTooLarge) as exc:
            return _text(400, str(exc))
        except QueryTimeout as exc:
            return _text(503, str(exc), {"Retry-After": "5"})
        except QueryTooExpensive as exc:
            return _text(422, f"query refused: {exc}")
        except QueryFailed as exc:
            return _text(500, f"query failed: {exc}")
        except StoreUnavailable as exc:
            return _text(502, str(exc))
        return 200, {"Content-Type": content_type}, payload

    def _update(self, sparql: str, headers: Mapping[str, str]) -> Response:
        if not self.update_token:
            return _text(403, "this endpoint is read-only (start it with an update token to allow updates)")
        auth = headers.get("authorization", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not given:
            return _text(401, "updates need 'Authorization: Bearer <token>'", {"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(given.encode(), self.update_token.encode()):
            return _text(403, "wrong update token")
        try:
            check_query(sparql)
            self.store.update(sparql)
        except (SparqlSyntaxError, UpdateRefused, QueryTooLarge) as exc:
            return _text(400, str(exc))
        return 204, {}, b""


def _app_server(endpoint: SparqlEndpoint, host: str, port: int):
    """The endpoint alone on the coordinator's ASGI stack (uvicorn: malformed requests get a
    400 from the HTTP parser; bodies are bounded and must arrive in time)."""
    from cloud_sync.dashboard.http_app import AppServer

    server = AppServer(host, port, max_body=MAX_BODY, title="SPARQL endpoint")
    for method in ("GET", "POST"):
        server.mount(method, PATH, endpoint.handle, summary="SPARQL 1.1 query (update with the token)")
    return server


def start_server(store, host: str = "127.0.0.1", port: int = 0, update_token: str | None = None,
                 timeout_s: float = 10.0, pool=None):
    """Serve /sparql in a background thread; ``server.server_address`` has the bound port,
    ``server.shutdown()`` stops it."""
    endpoint = SparqlEndpoint(store, update_token=update_token, timeout_s=timeout_s, pool=pool)
    return _app_server(endpoint, host, port).start()


def serve(store, host: str = "127.0.0.1", port: int = 7878, update_token: str | None = None,
          timeout_s: float = 10.0, pool=None) -> None:
    """Run the endpoint in the foreground until interrupted."""
    endpoint = SparqlEndpoint(store, update_token=update_token, timeout_s=timeout_s, pool=pool)
    server = _app_server(endpoint, host, port)
    log.warning("SPARQL endpoint on http://%s:%d%s (%s)", host, server.server_address[1], PATH,
                "updates with token" if update_token else "read-only")
    server.serve_forever()
