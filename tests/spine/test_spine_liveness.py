"""Heartbeats at fleet scale: memory first, the store in batches, no false timeouts.

A 3,000-device soak collapsed because every heartbeat cost four statements, the writer fell
behind, the monitor judged liveness from the writer's (stale) view and queued a timeout for
every device every 0.5 s, and the resulting offline/online flapping flooded the fleet graph.
"""
from __future__ import annotations

from cloud_sync.coordinator.events import EventHub
from cloud_sync.coordinator.ingest import Inbound, IngestWriter
from cloud_sync.coordinator.liveness import HEALTH_EVERY_S
from cloud_sync.coordinator.store import Store
from cloud_sync.protocol import envelope
from edge_runtime.waiting import wait_until


def _heartbeat(device: str, ts: float, cpu: float) -> Inbound:
    message = envelope(device, 0, {"interval_s": 1.0, "cpu_percent": cpu})
    message["ts"] = ts
    return Inbound("health", device, None, message, b"", ts)


def _state(device: str, online: bool, ts: float) -> Inbound:
    message = envelope(device, 0, {"online": online, "bdSeq": 1})
    message["ts"] = ts
    return Inbound("state", device, None, message, b"", ts)


def test_heartbeats_are_down_sampled_and_the_latest_reaches_the_devices_table(tmp_path):
    store = Store(tmp_path)
    writer = IngestWriter(store, EventHub(), health_keep=30)
    t0 = 1_700_000_000.0
    seconds = 200
    writer._write([_state("pi-1", True, t0)] + [_heartbeat("pi-1", t0 + s, float(s)) for s in range(seconds)])
    history = store.health_history("pi-1", limit=10_000)
    assert len(history) <= 30 + 10, "history must stay within its per-device bound"
    gaps = [b["ts"] - a["ts"] for a, b in zip(history, history[1:])]
    assert min(gaps) >= HEALTH_EVERY_S, f"rows closer than {HEALTH_EVERY_S} s: {min(gaps)}"
    assert history[-1]["ts"] >= t0 + seconds - 1 - 10 - HEALTH_EVERY_S, "history stops short of the newest"
    device = {d["device_id"]: d for d in store.devices()}["pi-1"]
    assert device["health"]["cpu_percent"] == seconds - 1, "the devices table holds the latest body"
    assert device["last_seen"] == t0 + seconds - 1 and device["online"]
    store.close()


def test_many_devices_are_mirrored_and_their_history_stored_in_multi_row_statements(tmp_path):
    """250 devices (over two statements of 100 and a remainder) in one batch: every one gets its
    history row, its last_seen and interval; a device that only sent a result keeps its NULL
    interval and health, and one that came back by traffic after its birth is online again."""
    store = Store(tmp_path)
    writer = IngestWriter(store, EventHub())
    t0 = 1_700_000_000.0
    writer._write([_state(f"d{i}", True, t0) for i in range(251)])
    statements: list[str] = []
    store.write.set_trace_callback(statements.append)
    result = envelope("d250", 1, {"n": 1}, msg_id="r-1")
    writer._write([_heartbeat(f"d{i}", t0 + 1 + i / 1000, float(i)) for i in range(250)]
                  + [Inbound("result", "d250", "t", result, b"{}", t0 + 2)])
    store.write.set_trace_callback(None)
    devices = {d["device_id"]: d for d in store.devices()}
    for i in range(250):
        d = devices[f"d{i}"]
        assert d["last_seen"] == t0 + 1 + i / 1000 and d["heartbeat_s"] == 1.0 and d["online"], d
        assert d["health"]["cpu_percent"] == float(i)
        assert [h["body"]["cpu_percent"] for h in store.health_history(f"d{i}")] == [float(i)]
    assert devices["d250"]["last_seen"] == t0 + 2 and devices["d250"]["heartbeat_s"] is None
    assert devices["d250"]["health"] is None
    per_row = [s for s in statements if s.startswith(("INSERT INTO health", "UPDATE devices SET last_seen"))]
    assert 0 < len(per_row) <= 6, f"{len(per_row)} statements for 251 devices: one per row again?"
    store.close()


def _writer_with_online_devices(tmp_path, n: int, t0: float) -> tuple[Store, IngestWriter]:
    """A writer whose store knows n online devices d0… that last spoke at t0 (1 s heartbeats)."""
    store = Store(tmp_path)
    writer = IngestWriter(store, EventHub())
    writer._write([_state(f"d{i}", True, t0) for i in range(n)] +
                  [_heartbeat(f"d{i}", t0, 1.0) for i in range(n)])
    return store, writer


def test_a_writer_behind_its_queue_never_times_out_devices_that_are_talking(tmp_path):
    t0 = 1_700_000_000.0
    store, writer = _writer_with_online_devices(tmp_path, 50, t0)
    offline_after = lambda heartbeat_s: 3.0   # noqa: E731
    # 10 s later; half the fleet's heartbeats arrived but still wait in the writer's queue
    for i in range(25):
        writer.submit(_heartbeat(f"d{i}", t0 + 10, 2.0))
    late = writer.book.timed_out(t0 + 10.5, offline_after)
    assert sorted(d for d, _ in late) == sorted(f"d{i}" for i in range(25, 50))
    assert writer.book.timed_out(t0 + 11, offline_after) == [], "one timeout per device in flight"
    # d30 speaks after its timeout was queued: the verdict is dropped when the writer reaches it
    for device, last in late:
        writer.submit(Inbound("timeout", device, None, {"last_arrival": last}, b"", t0 + 10.5))
    writer.submit(_heartbeat("d30", t0 + 11, 3.0))
    batch = list(writer._queue)
    writer._queue.clear()
    writer._write(batch)
    online = {d["device_id"] for d in store.devices() if d["online"]}
    assert online == {f"d{i}" for i in range(25)} | {"d30"}
    # the pending marks are cleared: a device silent again is reported again
    again = {d for d, _ in writer.book.timed_out(t0 + 20, offline_after)}
    assert "d3" in again and "d40" not in again      # d40 is offline already
    store.close()


def test_a_full_ingest_queue_pauses_the_network_thread_until_the_store_catches_up(tmp_path):
    """Bounded memory: past ``max_queue`` the network thread stops reading (the broker keeps
    the rest) instead of the coordinator growing by gigabytes (a 10k soak reached 2.2 GB)."""
    import sqlite3
    import threading

    store = Store(tmp_path)
    writer = IngestWriter(store, EventHub(), max_queue=50)
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")              # the store is busy: the writer's batch waits
    writer.start()
    t0 = 1_700_000_000.0
    writer.submit(_heartbeat("d0", t0, 1.0))
    wait_until(lambda: writer.pending == 0, 10, what="the writer took its first batch (and waits on the store)")
    from cloud_sync.protocol import encode
    for i in range(60):                              # results: heartbeats wait per device, not queued
        message = envelope(f"d{i % 5}", i + 1, {"v": i}, msg_id=f"result-{i:08d}")
        writer.submit(Inbound("result", message["dev"], "t", message, encode(message), t0 + 1))
    returned = threading.Event()
    network = threading.Thread(target=lambda: (writer.wait_for_room(timeout=30), returned.set()))
    network.start()
    try:
        assert not returned.wait(0.5), "the network thread went on although the queue is full"
        assert writer.backpressure_waits == 1
    finally:
        blocker.execute("COMMIT")                   # store free again: the queue drains
    assert returned.wait(20), "the network thread did not resume once the queue drained"
    network.join(5)
    assert writer.flush(20) and writer.pending == 0
    assert writer.backpressure_s >= 0.5
    writer.stop()
    blocker.close()
    store.close()


def test_heartbeats_waiting_for_a_busy_store_are_coalesced_per_device_and_results_are_not(tmp_path):
    """An overloaded coordinator must not make results (QoS1, acked after commit) wait behind
    a backlog of superseded heartbeats: only the newest waiting heartbeat per device is written."""
    import sqlite3

    from cloud_sync.protocol import encode

    store = Store(tmp_path)
    writer = IngestWriter(store, EventHub())
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    writer.start()
    t0 = 1_700_000_000.0
    writer.submit(_heartbeat("d0", t0, 0.0))
    wait_until(lambda: writer.pending == 0, 10, what="the writer took its first batch (and waits on the store)")
    from cloud_sync.protocol.link import Delivery
    for k in range(1, 6):
        for device in ("d1", "d2"):                  # as the network thread hands them: QoS0 deliveries
            beat = _heartbeat(device, t0 + 10 * k, float(k))
            beat.delivery = Delivery(None, 0, 0)
            writer.submit(beat)
    result = envelope("d1", 1, {"v": 1}, msg_id="result-0000001")
    writer.submit(Inbound("result", "d1", "t", result, encode(result), t0 + 60))
    assert writer.pending == 3, "two coalesced heartbeats and the result wait"
    blocker.execute("COMMIT")
    assert writer.flush(20)
    writer.stop()
    assert writer.heartbeats_coalesced == 8 and store.count_results() == 1
    newest = {d: store.health_history(d)[-1]["body"]["cpu_percent"] for d in ("d1", "d2")}
    assert newest == {"d1": 5.0, "d2": 5.0}
    blocker.close()
    store.close()


def test_a_wait_that_runs_out_is_followed_by_a_grace_so_the_network_loop_can_ping(tmp_path):
    """Back-to-back waits kept the network loop from writing PUBACKs and PINGREQ for longer
    than the broker's 1.5 x keepalive, and the broker dropped the coordinator."""
    import sqlite3
    import time

    from cloud_sync.coordinator.ingest import BACKPRESSURE_GRACE_S, BACKPRESSURE_MAX_S
    from cloud_sync.protocol import encode

    assert BACKPRESSURE_MAX_S + BACKPRESSURE_GRACE_S < 30, "paho drops a link whose PINGRESP waits 30 s"

    store = Store(tmp_path)
    writer = IngestWriter(store, EventHub(), max_queue=5)
    writer.grace_s = 0.5                           # the test's own (5 s in service)
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    writer.start()
    try:
        writer.submit(_heartbeat("d0", 1.0, 1.0))
        wait_until(lambda: writer.pending == 0, 10, what="the writer took its first batch (and waits on the store)")
        for i in range(12):
            message = envelope("d0", i + 1, {"v": i}, msg_id=f"r-{i:08d}")
            writer.submit(Inbound("result", "d0", "t", message, encode(message), 1.0))
        wait_until(lambda: len(writer._queue) >= 5, 10, what="a full queue behind the busy store")
        start = time.monotonic()
        writer.wait_for_room(timeout=0.3)
        assert time.monotonic() - start >= 0.3, "the first wait must hold the network thread"
        start = time.monotonic()
        writer.wait_for_room(timeout=0.3)
        assert time.monotonic() - start < 0.1, "right after a wait ran out the loop gets its turn"
        time.sleep(writer.grace_s + 0.05)
        start = time.monotonic()
        writer.wait_for_room(timeout=0.3)
        assert time.monotonic() - start >= 0.3, "after the grace, a full queue holds it again"
        assert writer.backpressure_waits == 2
    finally:
        blocker.execute("COMMIT")
    assert writer.flush(20) and writer.pending == 0
    writer.stop()
    blocker.close()
    store.close()


def test_silence_while_the_coordinator_was_not_reading_is_not_the_devices(tmp_path):
    """A network thread paused for ingest room reads nobody; after it resumes, each device's
    allowance counts from then (a loaded 10k soak had marked 8,000 devices offline at once)."""
    t0 = 1_700_000_000.0
    store, writer = _writer_with_online_devices(tmp_path, 20, t0)
    offline_after = lambda heartbeat_s: 3.0   # noqa: E731
    resumed = t0 + 10.0                       # reading paused from t0 + 1 to t0 + 10
    assert writer.book.timed_out(t0 + 11, offline_after, floor_s=3.0, not_before=resumed) == []
    for i in range(10):                       # half of them speak after the pause
        writer.submit(_heartbeat(f"d{i}", t0 + 12, 2.0))
    late = writer.book.timed_out(t0 + 13.5, offline_after, floor_s=3.0, not_before=resumed)
    assert sorted(d for d, _ in late) == sorted(f"d{i}" for i in range(10, 20))
    assert all(last == t0 for _, last in late), "the reported arrival is the real last one"
    store.close()


def test_the_monitor_judges_nobody_while_the_network_thread_waits(tmp_path):
    import time

    from cloud_sync.coordinator import Coordinator
    coord = Coordinator(None, tmp_path / "coord")
    try:
        assert coord._reading_resumed_at() == float("-inf")          # never paused
        coord.writer.waiting_since = time.monotonic()
        assert coord._reading_resumed_at() is None                    # paused now: no verdicts
        coord.writer.waiting_since, coord.writer.last_wait_end = None, time.monotonic() - 2.0
        assert abs(coord._reading_resumed_at() - (time.time() - 2.0)) < 0.1
    finally:
        coord.store.close()
