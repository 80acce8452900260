"""The coordinator's store: on disk (durable), answered from an in-memory copy. Both copies must
hold the same graph after live events, a restart must see everything, and updates that would
evaluate differently on each copy are refused without touching either."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from device_profiles import load_profile
from ontology.describe_device import thing_description
from ontology.endpoint import SparqlEndpoint
from ontology.live import FleetGraph
from ontology.queries import run_named
from ontology.store import GraphStore, SparqlSyntaxError, UpdateRefused

T0 = 1_767_225_600.0
ER = "https://w3id.org/edge-runtime/ns#"


def _everything(store) -> set:
    return {tuple(sorted(r.items())) for r in store.query("SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER(!isBlank(?s) && !isBlank(?o)) }")}


def test_live_events_reach_both_copies_and_survive_a_restart(tmp_path):
    path = tmp_path / "graph"
    store = GraphStore.open(path, memory_copy=True)
    assert "served from memory" in store.location
    fleet = FleetGraph(store, summary_interval_s=0.0, batch_interval_s=0.0)
    fleet.add_site("north", "North")
    for i in range(4):
        body = thing_description(load_profile("raspberry-pi-4b-4gb"), f"m{i}", site="north")
        fleet.on_event(SimpleNamespace(kind="td", device_id=f"m{i}", body=body, ts=T0))
        fleet.on_event(SimpleNamespace(kind="state", device_id=f"m{i}", body={"online": i != 2}, ts=T0 + 1))
    fleet.fl_round("r", 1)
    fleet.fl_participation("r", 1, "m0", {"loss": 0.25}, T0 + 2)
    served = run_named(store, "site_status")
    assert served == [{"siteId": "north", "online": 3, "offline": 1}]
    seen_in_memory = _everything(store)
    store.close()

    with GraphStore.open(path, read_only=True) as disk:  # the durable copy alone
        assert run_named(disk, "site_status") == served
        assert _everything(disk) == seen_in_memory
    with GraphStore.open(path, memory_copy=True) as again:  # a coordinator restart
        assert run_named(again, "fl_round_metrics", run="r") == \
            [{"runId": "r", "roundNumber": 1, "metricName": "loss", "participants": 1, "mean": 0.25}]
        assert _everything(again) == seen_in_memory


def test_refused_and_malformed_updates_change_neither_copy(tmp_path):
    path = tmp_path / "graph"
    store = GraphStore.open(path, memory_copy=True)
    store.update(f'INSERT DATA {{ <urn:x> <{ER}deviceId> "x" }}')
    before = _everything(store)
    with pytest.raises(UpdateRefused, match=r"NOW\(\) would give each copy a different value"):
        store.update(f"INSERT {{ <urn:x> <{ER}lastSeen> ?t }} WHERE {{ BIND(NOW() AS ?t) }}")
    with pytest.raises(SparqlSyntaxError):
        store.update("INSERT DATA { <urn:x> }")
    endpoint = SparqlEndpoint(store, update_token="t0k3n")
    status, _, body = endpoint.handle("POST", "/sparql", {"Content-Type": "application/sparql-update",
                                                          "Authorization": "Bearer t0k3n"},
                                      f"INSERT {{ <urn:y> <{ER}deviceId> ?u }} WHERE {{ BIND(STRUUID() AS ?u) }}".encode())
    assert status == 400 and b"STRUUID()" in body
    assert _everything(store) == before
    store.close()
    with GraphStore.open(path, read_only=True) as disk:
        assert _everything(disk) == before
