"""Property-based tests (Hypothesis) for the HTTP endpoints: whatever a client sends, the
answer is a status below 500 within the time limit, and the server keeps serving.

A real uvicorn server on a free loopback port with the dashboard's own route table: JSON
views, /sparql over an in-memory graph, a token-guarded write. Bounded examples in the
default suite; RUN_SLOW=1 runs many more.
"""
from __future__ import annotations

import os
import socket
import time
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud_sync.dashboard.live_feed import LiveFeed
from cloud_sync.dashboard.server import DashboardServer, json_response
from ontology.endpoint import SparqlEndpoint
from ontology.store import GraphStore

SLOW = os.environ.get("RUN_SLOW") == "1"
HTTP = settings(max_examples=1500 if SLOW else 40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TOKEN = "prop-token-123"
SPARQL_WORDS = ["SELECT", "ASK", "CONSTRUCT", "WHERE", "FILTER", "OPTIONAL", "UNION", "{", "}", "(", ")",
                "?s", "?p", "?o", ".", "||", "&&", "<urn:x:a>", '"v"', "1", "*", "LIMIT", "INSERT DATA",
                "DELETE", "CLEAR ALL", "#", "\n", "'''"]


@pytest.fixture(scope="module")
def server():
    graph = GraphStore.open(None)
    graph.update('INSERT DATA { <urn:x:a> <urn:x:p> "v" . <urn:x:b> <urn:x:p> 2 }')

    def device(rest: str):
        """one device"""
        if rest != "dev-1":
            raise KeyError(f"device {rest!r}")
        return {"id": rest}
    views = {"/api/fleet": lambda rest="": {"devices": []}, "/api/device": device}
    dashboard = DashboardServer(views, LiveFeed(), body_timeout_s=0.2,
                                authorise=lambda h: h.get("authorization") == f"Bearer {TOKEN}")
    endpoint = SparqlEndpoint(graph, update_token=TOKEN, timeout_s=2.0)
    for method in ("GET", "POST"):
        dashboard.mount(method, "/sparql", endpoint.handle)
    dashboard.mount("POST", "/api/deploy", lambda m, p, h, b: json_response({"ok": len(b)}, 201),
                    needs_token=True)
    dashboard.start()
    yield dashboard
    dashboard.stop()
    graph.close()


def _alive(server: DashboardServer) -> None:
    assert httpx.get(server.url + "api/fleet", timeout=5).status_code == 200


@HTTP
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
       path=st.one_of(st.sampled_from(["", "sparql", "api/fleet", "api/device/dev-1", "api/device/x",
                                       "api/deploy", "static/app.js", "static/../x", "docs",
                                       "openapi.json", "api/rejected"]),
                      st.text(max_size=60)),
       query=st.text(max_size=80), body=st.binary(max_size=2000),
       headers=st.dictionaries(st.sampled_from(["content-type", "accept", "authorization", "x-any"]),
                               st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
                               .map(str.strip),   # the client itself refuses padded values
                               max_size=4))
def test_any_request_gets_an_answer_below_500(server, method, path, query, body, headers):
    url = server.url + quote(path, safe="/") + (f"?{quote(query, safe='=&')}" if query else "")
    response = httpx.request(method, url, content=body, headers=headers, timeout=10)
    assert response.status_code < 500, (response.status_code, response.text[:300])


@HTTP
@given(words=st.lists(st.sampled_from(SPARQL_WORDS), max_size=60),
       content_type=st.sampled_from(["application/sparql-query", "application/sparql-update",
                                     "application/x-www-form-urlencoded", "text/plain"]),
       token=st.sampled_from([None, "wrong", TOKEN]))
def test_any_sparql_text_gets_a_clear_status(server, words, content_type, token):
    text = " ".join(words)
    body = f"query={quote(text)}" if content_type.endswith("urlencoded") else text
    headers = {"Content-Type": content_type, **({"Authorization": f"Bearer {token}"} if token else {})}
    response = httpx.post(server.url + "sparql", content=body.encode(), headers=headers, timeout=10)
    assert response.status_code in (200, 204, 400, 401, 403, 415, 503), response.text[:300]


@HTTP
@given(length=st.one_of(st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=25),
                        st.integers(-10, 2**70).map(str)),
       sent=st.binary(max_size=50))
def test_any_content_length_gets_a_status_within_5_s(server, length, sent):
    host, port = server.url.removeprefix("http://").strip("/").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=8) as sock:
        sock.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                     b"Content-Length: " + length.encode() + b"\r\n\r\n" + sent)
        line = sock.makefile("rb").readline()
    took = time.monotonic() - started
    assert line.startswith(b"HTTP/1.1 ") and took < 5.5, (line, took)
    assert int(line.split()[1]) < 500
    _alive(server)
