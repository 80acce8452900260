"""Live figures are written on change and in batches: a heartbeat that changes nothing costs
no graph write, a real change does, and the graph holds a constant number of triples per device."""
from __future__ import annotations

import time

from device_profiles import load_profile
from cloud_sync.coordinator.events import Event
from ontology.describe_device import thing_description
from ontology.live import FleetGraph
from ontology.ns import device_iri
from ontology.store import GraphStore

ER = "https://w3id.org/edge-runtime/ns#"


def _health(cpu: float, temp: float) -> dict:
    return {"interval_s": 1.0, "cpu_percent": cpu, "temperature_c": temp, "mem": {"used": 1 << 30}}


def _register(fleet: FleetGraph, n: int, t0: float) -> None:
    profile = load_profile("raspberry-pi-4b-4gb")
    for i in range(n):
        fleet.on_event(Event("td", f"d{i}", thing_description(profile, f"d{i}", site="s1"), t0))
        fleet.on_event(Event("state", f"d{i}", {"online": True, "bdSeq": 1}, t0))


def _figure(store: GraphStore, device: str, predicate: str):
    rows = store.query(f"SELECT ?v WHERE {{ <{device_iri(device)}> <{ER}{predicate}> ?v }}")
    return [r["v"] for r in rows]


def test_unchanged_heartbeats_cost_no_write_and_the_graph_stays_flat():
    store = GraphStore.open(None)
    fleet = FleetGraph(store, batch_interval_s=0.0, load_vocabulary=False)
    t0 = time.time() - 100
    _register(fleet, 50, t0)
    for k in range(1, 40):                               # 40 s of 1 Hz heartbeats, jitter < steps
        for i in range(50):
            fleet.on_event(Event("health", f"d{i}", _health(20.0 + (k % 3) * 0.5, 50.0 + (k % 2) * 0.3), t0 + k))
    first_round_writes = fleet.buffer.writes
    triples = store.triple_count()
    stats = fleet.stats()
    assert stats["events"] == 50 * 39 and stats["coalesced"] == 50 * 38   # only the first health written
    for k in range(40, 55):                              # more of the same: nothing written at all
        for i in range(50):
            fleet.on_event(Event("health", f"d{i}", _health(20.5, 50.3), t0 + k))
    assert fleet.buffer.writes == first_round_writes
    assert store.triple_count() == triples
    # the same TD and the same state again (a reconnect) are skipped, not rewritten
    _register(fleet, 50, t0 + 56)
    assert fleet.stats()["skipped_td"] == 50 and fleet.stats()["skipped_state"] == 50
    assert store.triple_count() == triples


def test_real_changes_are_written_and_last_seen_moves_by_its_resolution():
    store = GraphStore.open(None)
    fleet = FleetGraph(store, batch_interval_s=0.0, load_vocabulary=False)
    t0 = 1_767_225_600.0
    _register(fleet, 2, t0)
    fleet.on_event(Event("health", "d0", _health(20.0, 50.0), t0 + 1))
    fleet.on_event(Event("health", "d0", _health(21.0, 50.4), t0 + 2))   # inside the steps
    assert _figure(store, "d0", "temperatureC") == [50.0]
    fleet.on_event(Event("health", "d0", _health(21.0, 52.0), t0 + 3))   # +2 °C: written
    assert _figure(store, "d0", "temperatureC") == [52.0]
    fleet.on_event(Event("health", "d0", _health(45.0, 52.0), t0 + 4))   # +24 CPU points: written
    assert _figure(store, "d0", "cpuPercent") == [45.0]
    assert [str(v) for v in _figure(store, "d0", "lastSeen")] == ["2026-01-01T00:00:00Z"]
    fleet.on_event(Event("health", "d0", _health(45.0, 52.0), t0 + 61))  # a minute later
    assert [str(v) for v in _figure(store, "d0", "lastSeen")] == ["2026-01-01T00:01:01Z"]
    fleet.on_event(Event("state", "d0", {"online": False}, t0 + 70))
    assert _figure(store, "d0", "online") == [False]


def test_batched_writes_merge_a_fleet_into_few_updates_with_lag_reported():
    store = GraphStore.open(None)
    fleet = FleetGraph(store, batch_interval_s=0.2, load_vocabulary=False)
    now = time.time()
    _register(fleet, 300, now)
    fleet.buffer.reset_lag_max()                          # registration (SHACL) is the warm-up
    started = time.monotonic()
    for i in range(300):
        fleet.on_event(Event("health", f"d{i}", _health(10.0 + i % 7, 40.0 + i % 5), time.time()))
        fleet.on_event(Event("result", f"d{i}", {"task": "kws", "latency_ms": 5.0}, time.time()))
    writes_before = fleet.buffer.writes
    deadline = time.monotonic() + 10
    while fleet.buffer.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fleet.buffer.pending == 0
    # 600 events in a few updates: one per flush tick while they arrived (a slow machine spreads
    # them over more ticks; a tick may write the figures and the due summaries apart), never one
    # per device.
    ticks = (time.monotonic() - started) / 0.2
    assert fleet.buffer.writes - writes_before <= max(4, 2 * ticks + 2) and fleet.buffer.writes - writes_before < 60
    assert len(store.query(f"SELECT ?d WHERE {{ ?d <{ER}temperatureC> ?t }}")) == 300
    assert len(store.query(f"SELECT ?s WHERE {{ ?s <{ER}resultCount> 1 }}")) == 300
    stats = fleet.stats()
    assert 0.0 <= stats["lag_max_s"] < 5.0 and stats["write_errors"] == 0
    fleet.close()


def test_batched_births_and_states_keep_the_site_view_equal_to_the_facts():
    from ontology import rollups

    store = GraphStore.open(None)
    fleet = FleetGraph(store, batch_interval_s=0.1, load_vocabulary=False)
    profile = load_profile("jetson-nano")
    now = time.time()
    for i in range(120):
        fleet.on_event(Event("td", f"b{i}", thing_description(profile, f"b{i}", site=f"site-{i % 4}"), now))
        fleet.on_event(Event("state", f"b{i}", {"online": True}, now))
    for i in range(0, 120, 3):                                  # a third go offline
        fleet.on_event(Event("state", f"b{i}", {"online": False}, now + 1))
    for i in range(0, 12):                                      # some move to another site
        fleet.on_event(Event("td", f"b{i}", thing_description(profile, f"b{i}", site="site-9"), now + 2))
    fleet.close()
    view = {row.get("loc"): (row["on"], row["off"]) for row in store.query(
        f"SELECT ?loc ?on ?off WHERE {{ ?n a <{ER}SiteStatus> ; <{ER}devicesOnline> ?on ; "
        f"<{ER}devicesOffline> ?off . OPTIONAL {{ ?n <{ER}statusOf> ?loc }} }}")}
    facts = {row.get("loc"): (row["on"], row["off"]) for row in store.query(rollups.SITE_STATUS_FROM_FACTS)}
    assert view == facts and sum(on for on, _ in facts.values()) == 80
    assert len(store.query(f"SELECT ?d WHERE {{ ?d <{ER}ramBytes> ?r }}")) == 120   # every description in
    assert fleet.buffer.writes < 20                                                 # in a few batches
