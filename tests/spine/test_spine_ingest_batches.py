"""Batched inserts (100 rows per statement plus a remainder) store each message id once.

Batch sizes straddle the statement size; duplicates sit inside one statement, across
statements of one batch and across batches. Counters, rows and 'result' events must
all agree with the set of distinct ids.
"""
from __future__ import annotations

import numpy as np

from cloud_sync.coordinator.events import EventHub
from cloud_sync.coordinator.ingest import Inbound, IngestWriter
from cloud_sync.coordinator.store import ROWS_PER_STATEMENT, Store
from cloud_sync.protocol import encode, envelope
from cloud_sync.protocol.link import Delivery
from edge_runtime.waiting import wait_until


def _result(i: int) -> Inbound:
    message = envelope(f"dev-{i % 3}", i, {"n": i}, msg_id=f"id-{i:08d}")
    return Inbound("result", message["dev"], "t", message, encode(message), 1.0)


def test_batches_store_each_id_once(tmp_path):
    rng = np.random.default_rng(3)
    sizes = [1, ROWS_PER_STATEMENT - 1, ROWS_PER_STATEMENT, ROWS_PER_STATEMENT + 1,
             2 * ROWS_PER_STATEMENT + 37]
    store, events = Store(tmp_path), EventHub()
    seen_events: list = []
    events.add_listener(lambda e: seen_events.append(e) if e.kind == "result" else None)
    writer = IngestWriter(store, events)
    events.start()
    submitted, distinct = 0, set()
    for size in sizes:
        ids = rng.integers(0, 400, size)   # repeats inside and across batches
        writer._write([_result(int(i)) for i in ids])
        submitted += size
        distinct.update(int(i) for i in ids)
    wait_until(lambda: len(seen_events) >= len(distinct), 10, what="one event per new id")
    events.stop()
    assert writer.stored == len(distinct) == store.count_results()
    assert writer.duplicates == submitted - len(distinct)
    assert sorted(e.body["msg_id"] for e in seen_events) == sorted(f"id-{i:08d}" for i in distinct)
    stored = store.results(limit=10_000)
    assert sorted(r["body"]["n"] for r in stored) == sorted(distinct)
    store.close()


def test_stop_with_a_backlog_leaves_it_unacknowledged_and_the_store_closable(tmp_path):
    """A coordinator stopped under overload (a 10k-device soak left millions queued) must not
    close the store under a writer still draining: stop gives up after its timeout, finishes
    the batch in hand, and leaves the rest unacknowledged for the broker to redeliver."""
    store, events = Store(tmp_path), EventHub()
    writer = IngestWriter(store, events)
    acked: list[int] = []

    class Connection:                               # records what the writer acknowledges
        def ack_many(self, mids):
            acked.extend(mids)

    connection = Connection()
    backlog = [_result(i) for i in range(60_000)]
    for item in backlog:
        item.delivery = Delivery(connection, item.message["seq"], 1)
        writer.submit(item)
    events.start()
    writer.start()
    writer.stop(timeout=0.05)
    assert not writer._thread.is_alive(), "stop returned with the writer still running"
    stored = store.count_results()
    store.close()                                   # no writer left: closing is safe
    events.stop()
    assert 0 < stored < len(backlog) and writer.pending == len(backlog) - stored
    assert sorted(acked) == list(range(stored)), "acknowledged exactly what was stored"
