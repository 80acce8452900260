"""Batched, idempotent ingest: validated messages in, one SQLite transaction per batch out.

The network thread only parses and validates (``cloud_sync.protocol``) and appends to a
deque; this writer thread drains it in batches so the per-message cost is a row
insert, not a commit. Device liveness (online/offline) is decided here too, in the
transaction that stores it, so the event stream and the store always agree; heartbeats
only touch memory (``cloud_sync.coordinator.liveness``), mirrored to the store in batches.

Nothing acknowledged is lost: QoS1 deliveries carry their ``Delivery`` and are acked only
after the transaction that holds them commits (a coordinator killed before that gets them
redelivered). A batch the store refuses is retried message by message; the message that
still fails goes to the dead-letter table (``quarantine``) and the rest are stored. Only an
error of the store itself (locked, disk full: ``sqlite3.OperationalError``) leaves messages
unacknowledged in the queue, retried after a pause.
"""
from __future__ import annotations

import collections
import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any

from cloud_sync.coordinator import quarantine
from cloud_sync.coordinator.events import Event, EventHub
from cloud_sync.coordinator.liveness import HEALTH_KEEP, NOT_TRAFFIC, DeviceBook
from cloud_sync.coordinator.store import Store, execute_rows
from cloud_sync.protocol import ProtocolError, RejectionCounter
from cloud_sync.protocol.link import Delivery, ack_deliveries

log = logging.getLogger(__name__)


_INSERT_RESULTS = ("INSERT OR IGNORE INTO results(msg_id, device_id, task, seq, ts, received, "
                   "historical, payload) VALUES ")
MAX_QUEUE = 100_000     # messages waiting for the store before the network thread waits
BACKPRESSURE_MAX_S = 10.0
# After a wait that ran out, this long without waiting: the network loop finishes its turn
# (<= 16 reads of 256 kB), writes the PUBACKs and PINGREQ it owes and reads the PINGRESP.
# paho closes the link itself when a PINGRESP is not read within the keepalive (30 s), and
# the broker after 1.5 x keepalive without a packet; waits back to back (20 s, then 20 s with
# 1 s between) did that in loaded 10k soaks ("lost connection; reconnecting").
BACKPRESSURE_GRACE_S = 5.0
GATHER_S = 0.01         # a woken writer waits at most this long for a burst to end
GATHER_POLL_S = 0.001   # ... and stops as soon as a poll finds nothing new
GATHER_BELOW = 500
STORE_RETRY_S = 1.0      # pause after the store itself failed (locked, disk full)


@dataclass(slots=True)
class Inbound:
    kind: str              # route kind: result, health, state, td, config_reported, deploy,
    device_id: str         # timeout, or "rejected" (a dead letter: message = reason/detail)
    name: str | None
    message: dict[str, Any]
    payload: bytes = b""
    received: float = 0.0
    topic: str = ""
    delivery: Delivery | None = None   # acked after commit


def rejected(topic: str, payload: bytes, error: ProtocolError, delivery: Delivery | None) -> Inbound:
    """A message refused by validation, on its way to the dead-letter table."""
    return Inbound("rejected", "", None, {"reason": error.reason, "detail": error.detail},
                   payload, time.time(), topic, delivery)


class IngestWriter:
    def __init__(self, store: Store, events: EventHub, batch_max: int = 5000,
                 health_keep: int = HEALTH_KEEP, rejections: RejectionCounter | None = None,
                 max_queue: int = MAX_QUEUE):
        self.store = store
        self.events = events
        self.batch_max = batch_max
        self.max_queue = max_queue
        self.backpressure_waits = 0        # times the network thread waited for room
        self.backpressure_s = 0.0
        self.waiting_since: float | None = None   # monotonic start of the wait in progress
        self.last_wait_end = float("-inf")         # monotonic end of the last wait
        self._grace_until = 0.0
        self.grace_s = BACKPRESSURE_GRACE_S
        self.book = DeviceBook(health_keep=health_keep)
        self.stored = 0
        self.duplicates = 0
        self.batches = 0
        self.quarantined = 0
        self.rejections = rejections or RejectionCounter()
        self._abandoned = False            # stopping: store failed, or the drain time ran out
        self._queue: collections.deque[Inbound] = collections.deque()
        # The newest unwritten QoS0 heartbeat per device. Queued behind everything else, the
        # heartbeats of an overloaded coordinator delayed every result's commit and so its
        # QoS1 ack, and the broker's in-flight window let ~10 results/s through (10k soak).
        # A heartbeat is a reading superseded by the next one: the one it replaces is counted
        # (heartbeats_coalesced), not written; its arrival still counts for liveness.
        self._health: dict[str, Inbound] = {}
        self._health_lock = threading.Lock()
        self.heartbeats_coalesced = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_prune = time.monotonic()
        self.receipts = None               # a ReceiptBook: committed results are receipted
        self.book.load(store)

    # ----- producer side (network thread) ---------------------------------------------------------
    def submit(self, item: Inbound) -> None:
        self.book.note_arrival(item.kind, item.device_id, item.received)
        if item.kind == "health" and (item.delivery is None or item.delivery.qos == 0):
            with self._health_lock:
                if item.device_id in self._health:
                    self.heartbeats_coalesced += 1
                self._health[item.device_id] = item
        else:
            self._queue.append(item)
        if not self._wake.is_set():
            self._wake.set()

    def wait_for_room(self, timeout: float = BACKPRESSURE_MAX_S) -> None:
        """Network thread, before ``submit``: while the queue is full, stop reading the socket.

        The broker then holds the rest (QoS1 in flight and queued for this session; QoS0
        heartbeats beyond its limits are dropped there and counted by it), instead of this
        process growing without bound. Waits until the queue is down to 80 % or ``timeout``
        (kept below the MQTT keepalive, so the broker never drops the session for it)."""
        if len(self._queue) < self.max_queue:
            return
        start = time.monotonic()
        if start < self._grace_until:
            return
        self.backpressure_waits += 1
        self.waiting_since = start
        while len(self._queue) >= self.max_queue * 0.8 and time.monotonic() - start < timeout \
                and not self._stop.is_set() and self._thread is not None and self._thread.is_alive():
            self._stop.wait(0.01)
        end = time.monotonic()
        self.waiting_since, self.last_wait_end = None, end
        self.backpressure_s += end - start
        if end - start >= timeout:
            self._grace_until = end + self.grace_s

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._health)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is committed. (The writer clears ``_idle``
        before it pops a batch, so 'idle and queue empty' means nothing is in flight.)"""
        if self._thread is None or not self._thread.is_alive():
            return not self.pending
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._wake.set()
            if self._idle.wait(max(0.0, deadline - time.monotonic())) and not self.pending:
                return True
            time.sleep(0.005)
        return False

    # ----- writer thread ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="coordinator-ingest", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Drain for up to ``timeout`` s, then leave the rest: nothing in the queue has been
        acknowledged yet, so the broker redelivers it at the next start. Returns once the
        writer has finished its current batch, so the store can be closed under no writer."""
        self._stop.set()
        self._wake.set()
        if not self._thread:
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abandoned = True
            left = self.pending
            self._thread.join()
            log.warning("ingest stopped with %d messages not yet stored: they were not acknowledged "
                        "and the broker redelivers them at the next start", left)

    def _run(self) -> None:
        while not self._abandoned:
            if not self._queue and not self._health:
                self._idle.set()
                if self._stop.is_set():
                    return
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            self._idle.clear()
            self._gather()
            with self._health_lock:
                batch, self._health = list(self._health.values()), {}
            while self._queue and len(batch) < self.batch_max:
                batch.append(self._queue.popleft())
            try:
                self._write(batch)
                ack_deliveries([item.delivery for item in batch])
                if self.receipts is not None:
                    self.receipts.note(batch)
            except sqlite3.OperationalError as exc:
                self._store_failed(batch, exc)
            except Exception as exc:  # one message the store refuses must not cost the others
                log.warning("ingest batch of %d failed (%s: %s); writing it message by message",
                            len(batch), type(exc).__name__, exc)
                self._write_each(batch)

    def _gather(self) -> None:
        """Let a burst that is still arriving finish (one transaction per burst, not one wake-up
        per message), but not a moment longer: the broker sends only so many unacknowledged
        QoS1 messages, and they are acked after this batch commits, so waiting on a stalled
        queue would only stall the stream (a fixed 10 ms wait cost 0.39 -> 0.3x of mosquitto_sub)."""
        deadline = time.monotonic() + GATHER_S
        last = self.pending
        while last < GATHER_BELOW and time.monotonic() < deadline and not self._stop.is_set():
            self._stop.wait(GATHER_POLL_S)
            now = self.pending
            if now == last:
                return
            last = now

    def _write_each(self, batch: list[Inbound]) -> None:
        """One transaction per message; the ones that still fail are quarantined and acked."""
        for position, item in enumerate(batch):
            try:
                self._write([item])
            except sqlite3.OperationalError as exc:
                self._store_failed(batch[position:], exc)
                return
            except Exception as exc:
                self._quarantine(item, exc)
            ack_deliveries([item.delivery])
            if self.receipts is not None:
                self.receipts.note([item])

    def _quarantine(self, item: Inbound, exc: Exception) -> None:
        error = ProtocolError("store_error", f"{type(exc).__name__}: {exc}")
        topic = item.topic or f"{item.kind}/{item.device_id}/{item.name or ''}"
        self.rejections.count(error, item.kind, topic)
        try:
            self.store.write.execute("BEGIN IMMEDIATE")
            quarantine.record(self.store.write, topic, item.payload, error.reason, error.detail,
                              "store", item.received)
            self.store.write.execute("COMMIT")
            self.quarantined += 1
        except sqlite3.Error:
            log.exception("could not quarantine a message from %s", topic)
            try:
                self.store.write.execute("ROLLBACK")
            except sqlite3.Error:
                pass                      # no transaction was open

    def _store_failed(self, items: list[Inbound], exc: Exception) -> None:
        """The store itself failed: keep the messages (unacked) at the queue's head, retry later.
        While stopping, give up instead: unacked, the broker redelivers them at the next start."""
        if self._stop.is_set():
            log.error("store unavailable while stopping (%s); %d unacknowledged messages left to "
                      "the broker's redelivery", exc, len(items))
            self._abandoned = True
            return
        log.error("store unavailable (%s); %d messages kept for retry in %.0f s", exc, len(items),
                  STORE_RETRY_S)
        self._queue.extendleft(reversed(items))
        self._stop.wait(STORE_RETRY_S)

    def _write(self, batch: list[Inbound]) -> None:
        db = self.store.write
        events: list[Event] = []
        seen: dict[str, float] = {}
        results = [item for item in batch if item.kind == "result"]
        inserted = 0
        mirrored: set[str] = set()
        db.execute("BEGIN IMMEDIATE")
        try:
            if results:
                inserted, new_events = self._insert_results(db, results)
                events.extend(new_events)
            for item in batch:
                if item.kind != "result":
                    event = getattr(self, f"_on_{item.kind}")(db, item)
                    if event is not None:
                        events.append(event)
                if item.kind not in NOT_TRAFFIC:
                    seen[item.device_id] = max(seen.get(item.device_id, 0.0), item.received)
            for device_id, received in seen.items():
                events.extend(self.book.touch(db, device_id, received))
            self.book.write_history(db)
            mirrored = self.book.write_dirty(db, queue_empty=not self.pending)
            if time.monotonic() - self._last_prune > 60:
                self._last_prune = time.monotonic()
                quarantine.prune(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self.book.rolled_back(mirrored)      # their rows went with the rollback
            raise
        self.book.committed()
        # Counters move only after COMMIT, so 'stored' never runs ahead of what readers see.
        self.stored += inserted
        self.duplicates += len(results) - inserted
        self.batches += 1
        for event in events:
            self.events.emit(event)

    def _insert_results(self, db, items: list[Inbound]) -> tuple[int, list[Event]]:
        """One executemany for the batch's results; duplicates (same message id) are ignored
        by the primary key. Events only for rows that are new, and only if someone listens."""
        new_ids: set[str] | None = None
        if self.events.has_listeners:
            ids = [item.message["id"] for item in items]
            existing = set()
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                existing.update(r[0] for r in db.execute(
                    f"SELECT msg_id FROM results WHERE msg_id IN ({','.join('?' * len(chunk))})", chunk))
            new_ids = set(ids) - existing
        before = db.total_changes
        execute_rows(db, _INSERT_RESULTS, [
            (m["id"], item.device_id, item.name, m["seq"], m["ts"], item.received,
             int(m.get("historical", False)), item.payload)
            for item in items for m in (item.message,)])
        inserted = db.total_changes - before
        if not new_ids:
            return inserted, []
        events = []
        for item in items:
            m = item.message
            if m["id"] in new_ids:
                new_ids.discard(m["id"])  # a duplicate inside one batch gets one event
                events.append(Event("result", item.device_id,
                                    {"task": item.name, "msg_id": m["id"], "seq": m["seq"],
                                     "historical": m.get("historical", False), "record": m["body"]},
                                    m["ts"]))
        return inserted, events

    # ----- one handler per kind -----------------------------------------------------------------
    def _on_health(self, db, item: Inbound) -> Event:
        body, ts = item.message["body"], item.message["ts"]
        self.book.health(db, item.device_id, body, ts)
        return Event("health", item.device_id, body, ts)

    def _on_state(self, db, item: Inbound) -> Event | None:
        body, ts = item.message["body"], item.message["ts"]
        status = self.book.device(db, item.device_id)
        bd_seq = body.get("bdSeq")
        if not body["online"] and bd_seq is not None and status.bd_seq is not None \
                and bd_seq < status.bd_seq:
            return None  # the last will of an older session arriving after the new birth
        status.state_online = status.online = bool(body["online"])
        if body["online"]:
            status.bd_seq = bd_seq
        db.execute("UPDATE devices SET online = ?, state_online = ?, bd_seq = ? WHERE device_id = ?",
                   (int(status.online), int(status.state_online), status.bd_seq, item.device_id))
        return Event("state", item.device_id, dict(body), ts)

    def _on_rejected(self, db, item: Inbound) -> None:
        quarantine.record(db, item.topic, item.payload, item.message["reason"],
                          item.message["detail"], "validation", item.received)

    def _on_timeout(self, db, item: Inbound) -> Event | None:
        return self.book.timeout(db, item.device_id, item.message.get("last_arrival", item.received),
                                 bool(item.message.get("shared")))

    def _set_document(self, db, item: Inbound, column: str) -> dict:
        """Store the message body as the device's ``column`` document (td, reported, desired)."""
        assert column in ("td", "reported", "desired")      # a fixed name, never message data
        self.book.device(db, item.device_id)
        body = item.message["body"]
        db.execute(f"UPDATE devices SET {column} = ? WHERE device_id = ?", (json.dumps(body), item.device_id))
        return body

    def _on_td(self, db, item: Inbound) -> Event:
        return Event("td", item.device_id, self._set_document(db, item, "td"), item.message["ts"])

    def _on_config_reported(self, db, item: Inbound) -> Event:
        body = self._set_document(db, item, "reported")
        return Event("config", item.device_id, {"reported": body}, item.message["ts"])

    def _on_config_desired(self, db, item: Inbound) -> Event:
        body = self._set_document(db, item, "desired")
        return Event("config", item.device_id, {"desired": body}, item.message["ts"])

    def _on_deploy(self, db, item: Inbound) -> Event:
        self.book.device(db, item.device_id)
        body, ts = item.message["body"], item.message["ts"]
        db.execute("INSERT OR REPLACE INTO deploys(device_id, job, state, ts, body) VALUES (?, ?, ?, ?, ?)",
                   (item.device_id, item.name, body.get("state"), ts, json.dumps(body)))
        return Event("deploy", item.device_id, {"job": item.name, **body}, ts)
