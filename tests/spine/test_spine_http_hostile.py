"""The coordinator's HTTP side under hostile requests (issue 15): malformed Content-Length,
the two queries that used to segfault the whole process, a crash inside a query worker —
and afterwards ingest and /api/fleet still work."""
from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import paho.mqtt.client as mqtt
import pytest

from cloud_sync.cloud import CloudStack
from cloud_sync.mosquitto import MosquittoProcess
from cloud_sync.protocol import TopicTree, encode, envelope
from edge_runtime.waiting import wait_until

TOPICS = TopicTree()
DEEP = "SELECT * WHERE { FILTER(" + "(" * 10_000 + "1" + ")" * 10_000 + ") }"           # ~20 KB
MANY_OR = "SELECT * WHERE { ?s ?p ?o FILTER(" + "||".join(["1"] * 60_000) + ") }"         # 60,000 terms


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("http-hostile")
    (root / "mosq").mkdir()
    broker = MosquittoProcess(workdir=root / "mosq").start()
    cloud = CloudStack(broker.url, root / "data").start()
    yield cloud, broker
    cloud.stop()
    broker.stop()


def _raw(url: str, request: bytes, timeout: float = 10.0) -> tuple[int, float]:
    """(status, seconds until the status line arrived) for raw request bytes."""
    host, port = url.removeprefix("http://").strip("/").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        line = sock.makefile("rb").readline()
    return int(line.split()[1]), time.monotonic() - started


def _post_query(url: str, query: str) -> tuple[int, str]:
    request = urllib.request.Request(url + "sparql", query.encode(),
                                     {"Content-Type": "application/sparql-query"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _still_serving(cloud: CloudStack, broker: MosquittoProcess, seq: int) -> None:
    before = cloud.coordinator.count_results()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"after-{seq}")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    pub.publish(TOPICS.device("dev-h", "result/echo"), encode(envelope("dev-h", seq, {"n": seq})),
                qos=1).wait_for_publish(5)
    pub.loop_stop()
    pub.disconnect()
    wait_until(lambda: cloud.coordinator.count_results() == before + 1, 15, what="ingest after the attack")
    status, body = _get(cloud.dashboard_url + "api/fleet")
    assert status == 200 and "dev-h" in json.loads(body)["devices"][0]["id"]


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1e3", b"99999999999999999999999"])
def test_malformed_content_length_gets_4xx_within_5_s(stack, length):
    cloud, _ = stack
    request = b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\nASK{}"
    status, took = _raw(cloud.dashboard_url, request)
    assert 400 <= status < 500 and took < 5.0, (status, took)


@pytest.mark.parametrize("request_bytes, expected", [
    (b"GET /api/fleet HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", 431),
    (b"GET /api/fleet?" + b"q" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413),
])
def test_oversize_heads_and_bodies_are_refused(stack, request_bytes, expected):
    cloud, _ = stack
    status, took = _raw(cloud.dashboard_url, request_bytes)
    assert status == expected and took < 5.0


def test_a_body_that_never_arrives_gets_408(stack):
    cloud, _ = stack
    cloud.server.body_timeout_s = 1.0
    try:
        status, took = _raw(cloud.dashboard_url, b"POST /sparql HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Type: application/sparql-query\r\nContent-Length: 100\r\n\r\nASK")
    finally:
        cloud.server.body_timeout_s = 5.0
    assert status == 408 and took < 5.0


def test_both_hostile_queries_get_400_naming_the_limit_and_the_coordinator_serves(stack):
    cloud, broker = stack
    status, body = _post_query(cloud.dashboard_url, DEEP)
    assert status == 400 and "nesting limit" in body
    status, body = _post_query(cloud.dashboard_url, MANY_OR)
    assert status == 400 and "terms limit" in body
    _still_serving(cloud, broker, 1)


def test_a_query_that_crashes_the_engine_costs_one_worker(stack, monkeypatch):
    """With the limits lifted, the deep query reaches the engine and kills its worker (SIGSEGV
    measured here); the client gets a 500 with the reason, the coordinator keeps running."""
    import ontology.query_limits as limits
    cloud, broker = stack
    monkeypatch.setattr(limits, "MAX_NESTING", 10**9)
    monkeypatch.setattr(limits, "MAX_TERMS", 10**9)
    replaced = cloud.query_pool.replaced
    status, body = _post_query(cloud.dashboard_url, DEEP)
    assert status == 500 and "worker ended" in body, body
    assert cloud.query_pool.replaced == replaced + 1
    _still_serving(cloud, broker, 2)
    status, body = _post_query(cloud.dashboard_url, "ASK { ?s ?p ?o }")
    assert status == 200 and "boolean" in body


def test_docs_and_openapi_list_every_mounted_route(stack):
    cloud, _ = stack
    status, body = _get(cloud.dashboard_url + "openapi.json")
    spec = json.loads(body)
    assert status == 200 and {"/sparql", "/api/fleet", "/api/deploy", "/api/rejected"} <= set(spec["paths"])
    assert spec["paths"]["/api/deploy"]["post"]["security"] == [{"bearer": []}]
    status, page = _get(cloud.dashboard_url + "docs")
    assert status == 200 and b"/api/deployments" in page


def test_rejected_messages_are_listed_with_counts_per_reason(stack):
    cloud, broker = stack
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bad-one")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    pub.publish(TOPICS.device("dev-h", "result/echo"), b"\x00garbage", qos=1).wait_for_publish(5)
    pub.loop_stop()
    pub.disconnect()
    wait_until(lambda: cloud.coordinator.rejected("undecodable"), 10, what="the dead letter")
    status, body = _get(cloud.dashboard_url + "api/rejected")
    listing = json.loads(body)
    assert status == 200 and listing["counts"].get("undecodable", 0) >= 1
    assert listing["rejected"][0]["reason"] == "undecodable"
    assert json.loads(_get(cloud.dashboard_url + "api/rejected/undecodable")[1])["rejected"]


@pytest.mark.parametrize("partial", [b"", b"GET /api/fleet HTTP/1.1\r\nHost: x\r\n"])
def test_a_connection_that_never_completes_its_head_is_closed(stack, monkeypatch, partial):
    import cloud_sync.dashboard.http_app as http_app
    cloud, _ = stack
    monkeypatch.setattr(http_app, "HEAD_TIMEOUT_S", 1.0)
    host, port = cloud.dashboard_url.removeprefix("http://").strip("/").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(partial)
        assert sock.recv(100) == b""          # closed by the server, not by our timeout
    assert time.monotonic() - started < 5
    assert _get(cloud.dashboard_url + "api/fleet")[0] == 200
