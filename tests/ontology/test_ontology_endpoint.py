"""The /sparql endpoint driven by real curl: SPARQL JSON and CSV, form and direct POST, parser
errors as HTTP 400 with position, time limit, read-only unless the bearer token matches."""
from __future__ import annotations

import json
import shutil
import subprocess
import threading
from urllib.parse import quote

import pytest

from edge_runtime.waiting import wait_until
from ontology import oxigraph_backend
from ontology.endpoint import SparqlEndpoint, start_server
from ontology.queries import render, run_named

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
TOKEN = "tok-123"


@pytest.fixture
def endpoint_url(fleet_store):
    server = start_server(fleet_store, update_token=TOKEN, timeout_s=2.0)
    yield f"http://127.0.0.1:{server.server_address[1]}/sparql"
    server.shutdown()


def curl(*args: str) -> tuple[int, str, str]:
    """(HTTP status, content type, body) of one curl call."""
    out = subprocess.run(["curl", "-sS", "--max-time", "20", "-w", "\n%{http_code} %{content_type}", *args],
                         capture_output=True, text=True, check=True).stdout
    body, _, tail = out.rpartition("\n")
    status, _, ctype = tail.partition(" ")
    return int(status), ctype, body


def test_curl_get_returns_sparql_json(endpoint_url, fleet_store):
    query = render("site_status")
    status, ctype, body = curl(f"{endpoint_url}?query={quote(query)}")
    assert status == 200 and ctype == "application/sparql-results+json"
    doc = json.loads(body)
    assert doc["head"]["vars"] == ["siteId", "online", "offline"]
    got = {b["siteId"]["value"]: int(b["online"]["value"]) for b in doc["results"]["bindings"]}
    assert got == {r["siteId"]: r["online"] for r in run_named(fleet_store, "site_status")}
    assert doc["results"]["bindings"][0]["online"]["datatype"] == "http://www.w3.org/2001/XMLSchema#integer"


def test_curl_post_forms_and_csv(endpoint_url, fleet_store):
    query = render("capable_devices", sensor="microphone")
    status, _, body = curl("-X", "POST", "--data-urlencode", f"query={query}", endpoint_url)
    json_ids = [b["device"]["value"] for b in json.loads(body)["results"]["bindings"]]
    status2, ctype, csv_body = curl("-H", "Content-Type: application/sparql-query", "-H", "Accept: text/csv",
                                    "--data-binary", query, endpoint_url)
    assert status == status2 == 200 and ctype.startswith("text/csv")
    lines = csv_body.splitlines()
    assert lines[0] == "device,ram,storage"
    assert [line.split(",")[0] for line in lines[1:]] == json_ids
    assert json_ids and json_ids == [r["device"] for r in run_named(fleet_store, "capable_devices", sensor="microphone")]


def test_curl_malformed_query_is_400_with_position(endpoint_url):
    status, ctype, body = curl("-H", "Content-Type: application/sparql-query",
                               "--data-binary", "SELECT ?x WHERE {\n ?x ?p }", endpoint_url)
    assert status == 400 and ctype.startswith("text/plain")
    assert body.startswith("SPARQL syntax error at line 2, column") and "Traceback" not in body


def _query_threads() -> int:
    return sum(t.name == "sparql-query" for t in threading.enumerate())


def test_curl_query_past_time_limit_is_503_and_stops(endpoint_url, monkeypatch):
    """Answered 503, and the query stops too: it used to serialise its 10^12 rows on in the
    background until the process ran out of memory (24 GB in the suite, then OOM-killed)."""
    monkeypatch.setattr(oxigraph_backend, "MAX_ANSWER_BYTES", 2**40)   # the time limit comes first
    heavy = "SELECT * WHERE { ?a ?p ?b . ?c ?q ?d . ?e ?r ?f }"
    status, _, body = curl("-H", "Content-Type: application/sparql-query", "--data-binary", heavy, endpoint_url)
    assert status == 503 and "2 s limit" in body
    wait_until(lambda: _query_threads() == 0, 5, what="the timed-out query's thread to stop")


def test_answer_past_the_size_limit_is_422(endpoint_url, monkeypatch):
    monkeypatch.setattr(oxigraph_backend, "MAX_ANSWER_BYTES", 64 * 1024)
    everything = "SELECT * WHERE { ?s ?p ?o }"
    status, _, body = curl("-H", "Content-Type: application/sparql-query", "--data-binary", everything, endpoint_url)
    assert status == 422 and "over 0.0625 MB" in body and "add a LIMIT" in body
    status, _, body = curl("-H", "Content-Type: application/sparql-query", "--data-binary",
                           everything + " LIMIT 20", endpoint_url)
    assert status == 200 and len(json.loads(body)["results"]["bindings"]) == 20


def test_curl_updates_need_the_token(endpoint_url, fleet_store):
    update = 'INSERT DATA { <urn:x:a> <urn:x:p> "v" }'
    ask = 'ASK { <urn:x:a> <urn:x:p> "v" }'
    status, _, body = curl("-H", "Content-Type: application/sparql-update", "--data-binary", update, endpoint_url)
    assert status == 401 and "Bearer" in body
    status, _, _ = curl("-H", "Content-Type: application/sparql-update", "-H", "Authorization: Bearer wrong",
                        "--data-binary", update, endpoint_url)
    assert status == 403 and fleet_store.ask(ask) is False
    status, _, _ = curl("-H", "Content-Type: application/sparql-update", "-H", f"Authorization: Bearer {TOKEN}",
                        "--data-binary", update, endpoint_url)
    assert status == 204 and fleet_store.ask(ask) is True


def test_handler_refuses_updates_without_configured_token(fleet_store):
    endpoint = SparqlEndpoint(fleet_store)  # read-only
    status, _, body = endpoint.handle("POST", "/sparql", {"Content-Type": "application/sparql-update",
                                                          "Authorization": "Bearer x"}, b"CLEAR ALL")
    assert status == 403 and b"read-only" in body
    assert fleet_store.triple_count() > 1000
    assert endpoint.handle("GET", "/other", {}, b"")[0] == 404
    assert endpoint.handle("GET", "/sparql", {}, b"")[0] == 400
    assert endpoint.handle("PUT", "/sparql", {}, b"")[0] == 405
    status, headers, body = endpoint.handle("GET", "/sparql?query=ASK%7B%7D", {"Accept": "text/csv"}, b"")
    assert status == 200 and body == b"boolean\r\ntrue\r\n"
