"""/metrics is scraped over HTTP while a simulated fleet runs, and says what happened."""
from __future__ import annotations

import socket
import threading
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from cloud_sync.metrics import CoordinatorMetrics
from cloud_sync.simulate.fleet import FleetOptions, FleetSimulator, SimulatorThread


def _serve(metrics: CoordinatorMetrics):
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Route

    app = Starlette(routes=[Route("/metrics", metrics.endpoint)])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}/metrics"


def _scrape(url: str) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _triples(store) -> set:
    return {tuple(sorted(r.items())) for r in store.query(
        "SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER(!isBlank(?s) && !isBlank(?o)) }")}


def test_metrics_scraped_during_a_simulated_fleet(mosquitto, coordinator, tmp_path):
    from ontology.live import FleetGraph
    from ontology.store import GraphStore
    from ontology.store_mirror import MirroredOxigraphBackend

    # the coordinator's kind of store, rebuilding its memory copy after every update: the
    # rebuilds race the live writes, and the copy must still equal the disk store at the end
    store = GraphStore(MirroredOxigraphBackend(tmp_path / "graph", compact_ratio=0.0, compact_min_bytes=1,
                                                  compact_min_interval_s=0.0))
    graph = FleetGraph(store, batch_interval_s=0.5, load_vocabulary=False).attach(coordinator)
    metrics = CoordinatorMetrics(coordinator, graph).attach()
    server, url = _serve(metrics)
    try:
        sim = SimulatorThread(FleetSimulator(mosquitto.url, FleetOptions(
            devices=40, duration_s=7, heartbeat_s=2.0, result_every_s=0.5, seed=5,
            outage_fraction=0.25, outage_at_s=1.0, outage_s=3.0))).start()
        deadline = time.monotonic() + 20
        during = {}
        while time.monotonic() < deadline:           # scrape while devices are cut off
            during = _scrape(url)
            if during.get(("cloud_sync_devices_with_backlog", ()), 0) > 0:
                break
            time.sleep(0.1)
        report = sim.stop_and_join(60, stop=False)
        assert coordinator.flush(20)
        garbage = coordinator.link.publish(coordinator.topics.device("sim-00001", "health"), b"not json", 1)
        assert garbage is not None
        deadline = time.monotonic() + 10
        while coordinator.rejections.total == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        after = _scrape(url)
    finally:
        server.should_exit = True
        coordinator.remove_listener(graph.on_event)   # no event reaches the graph once closed
        graph.close()
    served = _triples(store)       # everything written now (close flushed the last figures)
    store.close()
    with GraphStore.open(tmp_path / "graph", read_only=True) as disk:
        assert _triples(disk) == served
    assert after[("cloud_sync_graph_compactions_total", ())] >= 1
    assert after[("cloud_sync_graph_errors_total", (("kind", "compaction"),))] == 0

    assert during[("cloud_sync_devices_with_backlog", ())] > 0          # outage backlog reported
    assert during[("cloud_sync_device_outbox_backlog_messages", ())] > 0
    assert after[("cloud_sync_results_stored_total", ())] == report.totals["results"]
    assert after[("cloud_sync_messages_received_total", ())] > report.totals["heartbeats"]
    assert after[("cloud_sync_ingest_latency_seconds_count", ())] > 0
    assert after[("cloud_sync_ingest_latency_seconds_count", ())] <= report.totals["results"]
    assert after[("cloud_sync_rejected_total", (("reason", "undecodable"),))] >= 1
    assert after[("cloud_sync_devices", (("state", "online"),))] + \
        after[("cloud_sync_devices", (("state", "offline"),))] == 40
    assert after[("cloud_sync_graph_coalesced_total", ())] > 0
    assert after[("cloud_sync_receipts_sent_total", ())] > 0          # the devices' results were confirmed
    assert after[("cloud_sync_receipts_unsent_total", ())] == 0
    assert after[("cloud_sync_graph_lag_seconds", ())] < 5.0
    assert ("cloud_sync_queue_depth", (("queue", "ingest"),)) in after
    snapshot = metrics.snapshot()
    assert snapshot["ingest"]["stored"] == report.totals["results"] and "graph" in snapshot
    assert snapshot["receipts"]["sent"] > 0 and snapshot["receipts"]["unsent"] == 0


def test_fl_round_state_is_exposed(coordinator):
    from ontology.live import FleetGraph
    from ontology.store import GraphStore

    graph = FleetGraph(GraphStore.open(None), batch_interval_s=0.0, load_vocabulary=False)
    metrics = CoordinatorMetrics(coordinator, graph)
    graph.fl_round("run-a", 3, "tinyreptile")
    graph.fl_participation("run-a", 3, "d1", {"loss": 0.5})
    graph.fl_participation("run-a", 3, "d1", {"loss": 0.4})     # re-sent: still one participant
    graph.fl_participation("run-a", 3, "d2", {"loss": 0.6})
    text = metrics.exposition().decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("cloud_sync_fl_round", (("run", "run-a"), ("strategy", "tinyreptile")))] == 3
    assert samples[("cloud_sync_fl_round_participants", (("run", "run-a"),))] == 2
    assert metrics.handle("POST", "/metrics", {}, b"")[0] == 405
    status, headers, body = metrics.handle("GET", "/metrics", {}, b"")
    assert status == 200 and b"cloud_sync_fl_round" in body


def test_the_cloud_stack_serves_metrics_and_the_dashboard_json(mosquitto, tmp_path):
    import json

    from cloud_sync.cloud import CloudStack

    stack = CloudStack(mosquitto.url, tmp_path / "stack", http_port=0, ota=False).start(wait_s=15)
    try:
        sim = SimulatorThread(FleetSimulator(mosquitto.url, FleetOptions(
            devices=12, duration_s=3, heartbeat_s=0.5, result_every_s=0.5, seed=9))).start()
        assert sim.wait_online(12, 20)
        deadline = time.monotonic() + 20
        scraped = {}
        while time.monotonic() < deadline:
            scraped = _scrape(stack.dashboard_url.rstrip("/") + "/metrics")
            if scraped.get(("cloud_sync_devices", (("state", "online"),))) == 12:
                break
            time.sleep(0.2)
        assert scraped[("cloud_sync_devices", (("state", "online"),))] == 12
        with urllib.request.urlopen(stack.dashboard_url.rstrip("/") + "/api/scale", timeout=5) as response:
            figures = json.loads(response.read())
        assert figures["devices"]["online"] == 12 and "lag_s" in figures["graph"]
        report = sim.stop_and_join(60, stop=False)
        assert stack.coordinator.flush(20)
        assert stack.metrics.snapshot()["ingest"]["stored"] == report.totals["results"]
    finally:
        stack.stop()
