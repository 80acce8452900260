"""Three coordinator replicas on one PostgreSQL, the leader SIGKILLed mid-stream: nothing lost,
nothing stored twice, leadership taken over within 10 s (short form of issue 16's replica test)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cloud_sync.simulate.fleet import FleetOptions, FleetSimulator, SimulatorThread

REPO = Path(__file__).resolve().parents[2]
psycopg = pytest.importorskip("psycopg")


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    from cloud_sync.postgres_server import PostgresServer, postgres_bin_dir
    try:
        postgres_bin_dir()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    server = PostgresServer(tmp_path_factory.mktemp("pg")).start()
    yield server
    server.cleanup()


class Replica:
    def __init__(self, replica_id: str, broker: str, store: str, data: Path, offline_after: float | None = None,
                 graph: str | None = None):
        self.id = replica_id
        self.lines: list[tuple[float, str]] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cloud_sync.coordinator.replica", "--broker", broker, "--store", store,
             "--replica-id", replica_id, "--data", str(data), "--lease-poll", "0.5", "--stats-s", "1"]
            + (["--offline-after", str(offline_after)] if offline_after else [])
            + (["--graph", graph] if graph else []),
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append((time.time(), line.strip()))

    def first(self, prefix: str, timeout: float, after: float = 0.0) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in list(self.lines):
                if line.startswith(prefix) and at >= after:
                    return at
            if self.proc.poll() is not None and not any(l.startswith(prefix) for _, l in self.lines):
                return None
            time.sleep(0.05)
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _stored(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT msg_id, COUNT(*) FROM results GROUP BY msg_id").fetchall())


def test_three_replicas_leader_killed_mid_stream(mosquitto, postgres, tmp_path):
    url = postgres.url
    replicas = {}
    try:
        replicas["r0"] = Replica("r0", mosquitto.url, url, tmp_path / "r0")
        assert replicas["r0"].first("LEADER r0", 60), replicas["r0"].lines[-5:]
        for rid in ("r1", "r2"):
            replicas[rid] = Replica(rid, mosquitto.url, url, tmp_path / rid)
        for rid in ("r1", "r2"):
            assert replicas[rid].first(f"READY {rid}", 60), replicas[rid].lines[-5:]
        sim = SimulatorThread(FleetSimulator(mosquitto.url, FleetOptions(
            devices=60, duration_s=7, heartbeat_s=1.0, result_every_s=0.2, seed=16))).start()
        assert sim.wait_online(60, 30)
        deadline = time.monotonic() + 20                     # mid-stream: results are flowing
        while time.monotonic() < deadline and len(_stored(url)) < 300:
            time.sleep(0.1)
        killed_at = time.time()
        replicas["r0"].proc.send_signal(signal.SIGKILL)      # the leader, no goodbye
        replicas["r0"].proc.wait(10)
        takeovers = [r.first(f"LEADER {r.id}", 15, after=killed_at) for r in (replicas["r1"], replicas["r2"])]
        took = min(t for t in takeovers if t is not None)
        assert took - killed_at <= 10.0
        replicas["r0b"] = Replica("r0", mosquitto.url, url, tmp_path / "r0")   # same id comes back
        assert replicas["r0b"].first("READY r0", 60)
        report = sim.stop_and_join(120, stop=False)
        expected = {msg_id for _, msg_id in report.expected_result_ids()}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_stored(url)) < len(expected):
            time.sleep(0.2)
        stored = _stored(url)
    finally:
        for replica in replicas.values():
            replica.stop()
    assert report.totals["unacked"] == 0 and len(expected) > 1000
    assert set(stored) == expected, (len(expected - set(stored)), len(set(stored) - expected))   # 0 lost
    assert max(stored.values()) == 1                                                            # 0 twice
    print(f"takeover {took - killed_at:.2f} s, {len(expected)} results")


def _online(url: str, device_id: str) -> int | None:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT online FROM devices WHERE device_id = %s", (device_id,)).fetchone()
    return row[0] if row else None


def test_replicas_on_shared_heartbeats_keep_a_talking_device_online_and_the_leader_times_out_a_silent_one(
        mosquitto, postgres, tmp_path):
    """Each replica hears about 1/3 of a device's heartbeats (shared subscription): if every
    replica judged liveness from its own share, talking devices would flap offline. Only the
    leader judges, from the last_seen all replicas mirror to PostgreSQL."""
    import paho.mqtt.client as mqtt

    from cloud_sync.protocol import TopicTree, encode, envelope

    url = postgres.url                       # the same database as the test above: new device ids
    replicas = {}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="liveness-dev")
    try:
        for rid in ("a0", "a1", "a2"):
            replicas[rid] = Replica(rid, mosquitto.url, url, tmp_path / rid, offline_after=3.0)
        for rid in replicas:
            assert replicas[rid].first(f"READY {rid}", 60), replicas[rid].lines[-5:]
        assert any(r.first(f"LEADER {r.id}", 20) for r in replicas.values())
        topics = TopicTree("edge", "default")
        host, port = mosquitto.url.rsplit("//", 1)[1].rsplit(":", 1)
        client.connect(host, int(port))
        client.loop_start()
        device = "live-dev-1"
        client.publish(topics.device(device, "state"), encode(envelope(device, 0, {"online": True, "bdSeq": 1})),
                       qos=1, retain=True).wait_for_publish(10)
        samples = []
        t_end = time.monotonic() + 14
        while time.monotonic() < t_end:                      # 1 Hz heartbeats for 14 s
            client.publish(topics.device(device, "health"),
                           encode(envelope(device, 0, {"interval_s": 1.0, "cpu_percent": 5.0})), qos=0)
            time.sleep(1.0)                                  # the heartbeat period itself
            samples.append(_online(url, device))
        flaps = [i for i, s in enumerate(samples[3:], 3) if s != 1]
        assert samples[-1] == 1 and not flaps, f"talking device shown offline at seconds {flaps}: {samples}"
        silent_at = time.monotonic()                         # heartbeats stop, connection stays up
        deadline = silent_at + 3.0 + 5.0 + 10.0
        while time.monotonic() < deadline and _online(url, device) != 0:
            time.sleep(0.2)
        took = time.monotonic() - silent_at
        assert _online(url, device) == 0, "silent device never timed out"
        assert took >= 3.0, f"timed out after {took:.1f} s, before its 3 s allowance"
        print(f"silent device offline after {took:.1f} s")
    finally:
        client.loop_stop()
        client.disconnect()
        for replica in replicas.values():
            replica.stop()


def test_replicas_share_one_fleet_graph_in_a_sparql_server(mosquitto, postgres, tmp_path):
    """Three replicas, one Oxigraph server: every device registered once, every stored result
    counted in exactly one replica's summary (the sums add up to what PostgreSQL holds)."""
    from cloud_sync.sparql_server import OxigraphServer, oxigraph_binary
    from ontology.store import GraphStore

    try:
        oxigraph_binary()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    url = postgres.url
    replicas = {}
    with OxigraphServer(tmp_path / "graph") as server:
        try:
            for rid in ("g0", "g1", "g2"):
                replicas[rid] = Replica(rid, mosquitto.url, url, tmp_path / rid, graph=server.query_url)
            for rid in replicas:
                assert replicas[rid].first(f"READY {rid}", 60), replicas[rid].lines[-5:]
            sim = SimulatorThread(FleetSimulator(mosquitto.url, FleetOptions(
                devices=40, duration_s=8, heartbeat_s=1.0, result_every_s=0.5, seed=23,
                prefix="graph-dev"))).start()
            assert sim.wait_online(40, 30)
            report = sim.stop_and_join(120, stop=False)
            expected = {msg_id for _, msg_id in report.expected_result_ids()}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not expected <= set(_stored(url)):
                time.sleep(0.2)
        finally:
            for replica in replicas.values():
                replica.stop()                       # SIGTERM: each writes its last summaries
        graph = GraphStore.open(server.query_url)
        er = "https://w3id.org/edge-runtime/ns#"
        rows = graph.query(f"""SELECT ?d (SUM(?c) AS ?n) (COUNT(?s) AS ?writers) WHERE {{
            ?s a <{er}ResultSummary> ; <{er}summaryOf> ?d ; <{er}resultCount> ?c .
            FILTER(CONTAINS(STR(?d), "graph-dev")) }} GROUP BY ?d""")
        per_device = {r["d"]: (int(r["n"]), int(r["writers"])) for r in rows}
        registered = graph.query(f"""SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE {{
            ?d <{er}online> ?o . FILTER(CONTAINS(STR(?d), "graph-dev")) }}""")
    assert len(expected) > 200
    assert int(registered[0]["n"]) == 40, "every device described once in the shared graph"
    assert len(per_device) == 40
    assert sum(n for n, _ in per_device.values()) == len(expected), "summaries add up to the stored results"
    assert max(w for _, w in per_device.values()) >= 2, "the results were split between replicas"
