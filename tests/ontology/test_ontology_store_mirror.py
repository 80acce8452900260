"""The coordinator's store: on disk (durable), answered from an in-memory copy. Both copies must
hold the same graph after live events, a restart must see everything, and updates that would
evaluate differently on each copy are refused without touching either."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
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


# ---- rebuilding the memory copy (it never frees replaced figures otherwise) ------------------

def _figure_updates(n: int, start: int = 0) -> list[str]:
    return [f'DELETE WHERE {{ <urn:d{i % 50}> <{ER}count> ?o }} ; '
            f'INSERT DATA {{ <urn:d{i % 50}> <{ER}count> {start + i} }}' for i in range(n)]


def test_a_rebuild_keeps_the_writes_made_while_it_loads(tmp_path):
    from ontology.store_mirror import MirroredOxigraphBackend

    class WritesDuringLoad(MirroredOxigraphBackend):
        during: list[str] = []

        def _load_copy(self, store, dump):
            super()._load_copy(store, dump)
            for sparql in self.during:           # the rebuild's slow phase: other writers go on
                graph.update(sparql)
            if self.during:                      # and readers: the disk store answers them
                answers.append(graph.ask(f'ASK {{ <urn:new> <{ER}deviceId> "new" }}'))

    backend = WritesDuringLoad(tmp_path / "graph")
    graph = GraphStore(backend)
    answers: list = []
    for sparql in _figure_updates(120):
        graph.update(sparql)
    graph.update(f'INSERT DATA {{ <urn:gone> <{ER}deviceId> "gone" }}')
    WritesDuringLoad.during = _figure_updates(30, start=1000) + [
        f'DELETE DATA {{ <urn:gone> <{ER}deviceId> "gone" }}',
        f'INSERT DATA {{ <urn:new> <{ER}deviceId> "new" }}']
    backend.compact()
    # what was replayed onto the new copy replaced figures there too: it counts towards the next
    assert backend.compactions == 1 and backend.written_bytes == sum(map(len, WritesDuringLoad.during))
    WritesDuringLoad.during = []
    assert answers == [True] and graph.ask(f'ASK {{ <urn:new> <{ER}deviceId> "new" }}')
    counts = {r["s"]: int(r["o"]) for r in graph.query(f"SELECT ?s ?o {{ ?s <{ER}count> ?o }}")}
    assert len(counts) == 50 and counts["urn:d29"] == 1029 and counts["urn:d30"] == 80
    served = _everything(graph)
    assert ("urn:new" in str(served)) and ("urn:gone" not in str(served))
    graph.close()
    with GraphStore.open(tmp_path / "graph", read_only=True) as disk:
        assert _everything(disk) == served


def test_the_coordinator_store_rebuilds_itself_once_enough_was_replaced(tmp_path):
    from ontology.store_mirror import MirroredOxigraphBackend

    backend = MirroredOxigraphBackend(tmp_path / "graph", compact_min_bytes=20_000, compact_min_interval_s=0.0)
    graph = GraphStore(backend)
    updates = _figure_updates(400)
    for sparql in updates:
        graph.update(sparql)
    assert sum(map(len, updates)) > 20_000
    deadline = time.monotonic() + 30
    while graph.maintenance_stats()["compactions"] < 1:
        assert time.monotonic() < deadline, "no rebuild within 30 s of passing the threshold"
        time.sleep(0.02)
    counts = {r["s"]: int(r["o"]) for r in graph.query(f"SELECT ?s ?o {{ ?s <{ER}count> ?o }}")}
    assert counts == {f"urn:d{i}": 350 + i for i in range(50)}
    assert graph.maintenance_stats()["compaction_errors"] == 0
    graph.close()


_RSS_PROBE = r"""
import random, sys
from pathlib import Path
from ontology.store import GraphStore
from ontology.store_mirror import MirroredOxigraphBackend
ER = "https://w3id.org/edge-runtime/ns#"
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
backend = MirroredOxigraphBackend(Path(sys.argv[1]), compact_min_bytes=2**40)  # rebuild by hand
graph = GraphStore(backend)
graph.load_ntriples("\n".join(f'<urn:d{i}> <{ER}p{p}> "v{p}-{i}" .' for i in range(5000) for p in range(20)))
before = rss_mb()
rng = random.Random(7)
for r in range(40):       # 40,000 replaced figures, as lastSeen/count updates replace them
    graph.update(" ;\n".join(f'DELETE WHERE {{ <urn:d{i}> <{ER}count> ?o }} ; '
                             f'INSERT DATA {{ <urn:d{i}> <{ER}count> {r * 10**6 + i} }}'
                             for i in rng.sample(range(5000), 1000)))
grown = rss_mb()
import threading, time
peak, done = [grown], threading.Event()
def watch():
    while not done.is_set():
        peak[0] = max(peak[0], rss_mb())
        time.sleep(0.005)
watcher = threading.Thread(target=watch)
watcher.start()
backend.compact()
done.set()
watcher.join()
print(before, grown, rss_mb(), peak[0])
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads RSS from /proc (Linux)")
def test_a_rebuild_gives_back_the_memory_replaced_figures_held(tmp_path):
    probe = subprocess.run([sys.executable, "-c", _RSS_PROBE, str(tmp_path / "graph")],
                           capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert probe.returncode == 0, probe.stderr
    before, grown, after, peak = map(float, probe.stdout.split())
    print(f"RSS {before:.0f} → {grown:.0f} → {after:.0f} MB, peak {peak:.0f} MB during the rebuild")
    assert grown - before > 20, f"the probe should grow the copy first: {before:.0f} → {grown:.0f} MB"
    # the old copy goes before the new one is loaded: never both in memory
    assert peak - grown < 10, f"RSS peaked at {peak:.0f} MB during the rebuild (from {grown:.0f})"
    assert after - before < (grown - before) / 2, \
        f"RSS {before:.0f} MB → {grown:.0f} MB after 40,000 changes → {after:.0f} MB after the rebuild"


def test_an_on_disk_store_flushes_its_write_buffers_as_figures_are_replaced(tmp_path):
    """RocksDB held every unflushed write in memory (+500 MB after 960,000 replaced figures)."""
    from ontology.oxigraph_backend import OxigraphBackend

    backend = OxigraphBackend(tmp_path / "graph")
    backend.flush_every_bytes = 10_000
    graph = GraphStore(backend)
    updates = _figure_updates(300)
    for sparql in updates:
        graph.update(sparql)
    assert 2 <= backend.flushes <= sum(map(len, updates)) // 10_000
    assert {r["s"]: int(r["o"]) for r in graph.query(f"SELECT ?s ?o {{ ?s <{ER}count> ?o }}")} == \
        {f"urn:d{i}": 250 + i for i in range(50)}
    graph.close()


def test_rebuilds_wait_their_interval_however_much_was_replaced(tmp_path):
    """Bytes alone rebuilt every 16 s at 10,000 devices (20 % of a core): time bounds them too."""
    from ontology.store_mirror import MirroredOxigraphBackend

    backend = MirroredOxigraphBackend(tmp_path / "graph", compact_min_bytes=1_000, compact_min_interval_s=3600)
    graph = GraphStore(backend)
    for sparql in _figure_updates(100):
        graph.update(sparql)
    assert backend.written_bytes > 1_000 and not backend.compaction_due() and backend.compactions == 0
    backend._last_compaction_end -= 3600          # an hour later
    assert backend.compaction_due()
    backend.last_compaction_s = 200.0              # a slow rebuild: at most 5 % of the time
    assert not backend.compaction_due()
    graph.close()
