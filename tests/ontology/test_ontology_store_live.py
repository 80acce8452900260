"""The store door (persistent Oxigraph, time limits, parser errors, remote endpoint by URL) and
the live graph fed with coordinator-shaped events."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from device_profiles import load_profile
from ontology.describe_device import thing_description
from ontology.endpoint import start_server
from ontology.live import FleetGraph
from ontology.queries import capable_devices, devices_for_model, run_named
from ontology.shacl import DescriptionRejected
from ontology.store import GraphStore, QueryTimeout, SparqlSyntaxError
from ontology.describe_device import device_graph

FIXTURES = Path(__file__).resolve().parents[2] / "edge_runtime" / "models" / "fixtures"
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
HEAVY = ("SELECT * WHERE { ?a ?p ?b . ?c ?q ?d . ?e ?r ?f }")


@dataclass
class Event:
    kind: str
    device_id: str
    body: Any
    ts: float


class ListenerHub:
    """The coordinator's listener API (add_listener) and nothing else."""

    def __init__(self):
        self.listeners = []

    def add_listener(self, fn):
        self.listeners.append(fn)

    def emit(self, kind, device_id, body, ts):
        for fn in self.listeners:
            fn(Event(kind, device_id, body, ts))


def test_persistent_store_survives_reopen(tmp_path):
    with GraphStore.open(tmp_path / "graph") as store:
        store.add_graph(device_graph(load_profile("esp32-s3"), "esp-1"))
    with GraphStore.open(str(tmp_path / "graph")) as store:
        assert store.query("SELECT ?id WHERE { ?d <https://w3id.org/edge-runtime/ns#deviceId> ?id }") == [{"id": "esp-1"}]


def test_syntax_error_has_message_and_position():
    store = GraphStore.open(":memory:")
    with pytest.raises(SparqlSyntaxError) as caught:
        store.query("SELECT ?x WHERE {\n  ?x ?p \n}")
    assert caught.value.line == 3 and caught.value.column in (1, 2)
    assert str(caught.value).startswith("SPARQL syntax error at line 3, column")
    assert "expected" in caught.value.message


def test_query_time_limit(fleet_store):
    start = time.monotonic()
    with pytest.raises(QueryTimeout, match="0.2 s limit"):
        fleet_store.query(HEAVY, timeout_s=0.2)
    assert time.monotonic() - start < 2.0


def test_invalid_description_never_enters_the_store():
    store = GraphStore.open(None)
    info = load_profile("esp32-s3").to_dict()
    info["ram_bytes"] = 0
    with pytest.raises(DescriptionRejected, match="er:ramBytes"):
        store.add_graph(device_graph(info, "esp-bad"))
    assert store.triple_count() == 0


def test_live_graph_follows_events(small_fleet):
    store = GraphStore.open(None)
    hub = ListenerHub()
    fleet = FleetGraph(store, summary_interval_s=0.0, batch_interval_s=0.0).attach(hub)
    fleet.add_site("eu", "Europe")
    fleet.add_site("eu-oslo", "Oslo", parent="eu")
    for i, pid in enumerate(["raspberry-pi-4b-4gb", "arduino-nano-33-ble-sense", "jetson-nano"]):
        hub.emit("td", f"d{i}", thing_description(load_profile(pid), f"d{i}", site="eu-oslo"), T0)
        hub.emit("state", f"d{i}", {"online": True}, T0 + 1)
    assert capable_devices(store, sensor="microphone", backend="tflm") == ["d1"]
    assert store.query('PREFIX er: <https://w3id.org/edge-runtime/ns#> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> '
                       'SELECT ?l WHERE { er:ramBytes rdfs:label ?l }') == [{"l": "RAM (bytes)"}]
    assert capable_devices(store, min_ram_bytes=2 << 30) == ["d0", "d2"]

    hub.emit("state", "d2", {"online": False}, T0 + 60)
    assert capable_devices(store, min_ram_bytes=2 << 30) == ["d0"]
    offline = run_named(store, "devices_offline_since", since="2026-01-01T00:05:00Z", site="eu")
    assert [(r["siteId"], r["device"], r["lastSeen"]) for r in offline] == [("eu-oslo", "d2", "2026-01-01T00:01:00Z")]

    hub.emit("health", "d0", {"interval_s": 10, "cpu_percent": 55.0, "temperature_c": 81.5,
                              "mem": {"used": 1_000_000}}, T0 + 100)
    hub.emit("health", "d0", {"interval_s": 10, "cpu_percent": 60.0, "temperature_c": 84.0}, T0 + 110)
    hub.emit("deploy", "d0", {"state": "downloading", "model": "kws-v1", "job": "j1"}, T0 + 120)
    hub.emit("deploy", "d0", {"state": "failed", "model": "kws-v1", "job": "j1", "error": "smoke test failed"}, T0 + 130)
    hot = run_named(store, "failed_deployments_hot", minTemp=80)
    assert [(r["device"], r["temperature"], r["deployment"], r["detail"]) for r in hot] == \
        [("d0", 84.0, "j1", "smoke test failed")]

    fleet.fl_round("run-1", 1, "fedavg")
    fleet.fl_participation("run-1", 1, "d0", {"loss": 0.5, "latency_ms": 20.0}, T0 + 200)
    fleet.fl_participation("run-1", 1, "d1", {"loss": 0.7, "latency_ms": 40.0}, T0 + 200)
    fleet.fl_participation("run-1", 1, "d1", {"loss": 0.9, "latency_ms": 40.0}, T0 + 201)  # re-sent: replaces
    rows = run_named(store, "fl_round_metrics", run="run-1", metric="loss")
    assert [(r["participants"], round(r["mean"], 6)) for r in rows] == [(2, 0.7)]

    for k in range(5):
        hub.emit("result", "d1", {"task": "kws", "label": "yes", "latency_ms": 10.0 + k}, T0 + 300 + k)
    summary = store.query("""PREFIX er: <https://w3id.org/edge-runtime/ns#>
        SELECT ?n ?lat WHERE { ?s er:summaryOf ?d ; er:workload "kws" ; er:resultCount ?n ; er:meanLatencyMs ?lat }""")
    assert summary == [{"n": 5, "lat": 12.0}]

    # re-registration replaces the description but keeps live state; a bad TD is refused, not raised
    hub.emit("td", "d0", thing_description(load_profile("raspberry-pi-4b-8gb"), "d0", site="eu-oslo"), T0 + 400)
    assert capable_devices(store, min_ram_bytes=6 << 30) == ["d0"]
    bad = thing_description(load_profile("esp32-s3"), "d9")
    del bad["er:ramBytes"]
    hub.emit("td", "d9", bad, T0 + 500)
    assert fleet.rejected and "er:ramBytes" in fleet.rejected[0][1]
    assert store.query("ASK { ?d <https://w3id.org/edge-runtime/ns#deviceId> \"d9\" }") == [{"boolean": False}]
    hub.emit("deploy", "d0", {"state": "exploded", "model": "x"}, T0 + 600)
    fleet.register_model(FIXTURES / "tiny_mlp.tflite", "mlp-v1", task="demo", version=1)
    assert devices_for_model(store, "mlp-v1", backend="tflm") == ["d1"]
    assert fleet.errors["deploy"] == 1


def test_store_by_url_against_a_served_endpoint(fleet_store, small_fleet):
    server = start_server(fleet_store, update_token="s3cret")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/sparql"
        remote = GraphStore.open(url, token="s3cret")
        local_rows = run_named(fleet_store, "site_status")
        assert run_named(remote, "site_status") == local_rows
        remote.add_graph(device_graph(load_profile("esp32-s3"), "remote-1"))
        assert fleet_store.query('ASK { ?d <https://w3id.org/edge-runtime/ns#deviceId> "remote-1" }') == \
            [{"boolean": True}]
        with pytest.raises(SparqlSyntaxError):
            remote.query("SELECT WHERE")
    finally:
        server.shutdown()
