"""The pump from the durable outbox to the broker: ordered, windowed, deleted on PUBACK.

On every (re)connection it starts again from the oldest stored message, so the backlog
goes out in order; messages created before the current connection are re-encoded with
``"historical": true`` so the cloud can tell replay from live data. Deletions are
batched (one SQLite transaction per sweep), which is what lets the outbox keep up with
thousands of messages a second on a Pi-class CPU.

End-to-end receipts: a PUBACK says only that the broker took the message. A broker whose
queue for the coordinator overflows drops messages it has PUBACKed (Mosquitto's
``max_queued_messages``: 294,570 results lost in a loaded 10k-device soak). When every online
coordinator announces ``receipts``, a result row is kept after its PUBACK until the
coordinator's ``receipt`` names its seq; rows still unconfirmed after ``receipt_timeout_s``
are sent again from the oldest (same message ids: the coordinator drops the duplicates).
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Callable

from cloud_sync.protocol import decode, encode
from cloud_sync.protocol.link import Link
from edge_runtime.agent.outbox import Outbox, OutboxRow

log = logging.getLogger(__name__)


def mark_historical(payload: bytes) -> bytes:
    """The same envelope (same id, so dedup still works) flagged as replayed backlog."""
    message = decode(payload)
    message["historical"] = True
    return encode(message)


class Delivery:
    """Background thread moving outbox rows to ``link`` while ``gate()`` allows it."""

    ACK_WAKE = 32
    RECEIPT_TIMEOUT_S = 120.0

    def __init__(self, outbox: Outbox, link: Link, gate: Callable[[], bool] = lambda: True,
                 window: int = 200, delete_batch: int = 200, delete_delay_s: float = 0.05,
                 receipt_timeout_s: float = RECEIPT_TIMEOUT_S):
        self.outbox = outbox
        self.link = link
        self.gate = gate
        self.window = window
        self.delete_batch = delete_batch
        self.delete_delay_s = delete_delay_s
        self.published = 0          # PUBACKed messages since start
        self.replayed = 0           # of which were historical
        self.receipts = False       # set by the agent: the online coordinators confirm results
        self.receipt_timeout_s = receipt_timeout_s
        self.confirmed = 0          # results the coordinator confirmed it stored
        self.resend_rounds = 0      # replays because confirmations did not come in time
        self._awaiting: dict[int, tuple[int, float]] = {}   # seq -> (row id, PUBACKed at)
        self._receipts_in: collections.deque = collections.deque()
        self._resend_now = False
        self.last_sync: float | None = outbox.get_meta("last_sync")
        self._inflight: collections.deque = collections.deque()
        self._acked: list[int] = []
        self._acked_since: float | None = None
        self._cursor = 0
        self._acks_since_wake = 0
        self._generation = -1
        self._connected_at = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Delivery":
        self._thread = threading.Thread(target=self._run, name="outbox-delivery", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
        self._sweep_acks()
        self._flush_deletes(force=True)
        if self.last_sync is not None:
            self.outbox.set_meta("last_sync", self.last_sync)

    def notify(self) -> None:
        """Something changed (new rows, a connection): look again."""
        self._wake.set()

    def resend_unconfirmed(self) -> None:
        """A coordinator that sends receipts went offline (any thread): what awaits its receipt
        goes again at the next step instead of after the timeout."""
        self._resend_now = True
        self._wake.set()

    def on_receipt(self, ranges: list[list[int]]) -> None:
        """The coordinator's receipt (network thread): [[first, last], ...] seqs it committed."""
        self._receipts_in.append(ranges)
        self._wake.set()

    def on_ack(self) -> None:
        """A PUBACK arrived (network thread). Wake the pump every ``ACK_WAKE`` acks or when
        everything in flight is acknowledged, not per ack: per-ack wake-ups cost a thread
        switch each and halved the outbox rate."""
        self._acks_since_wake += 1
        if self._acks_since_wake >= self.ACK_WAKE or self._acks_since_wake >= len(self._inflight):
            self._acks_since_wake = 0
            self._wake.set()

    # ----- internals ------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._next_wait())
            self._wake.clear()
            try:
                self._sweep_acks()
                self._take_receipts()
                self._flush_deletes()
                if self.link.connected.is_set() and self.gate():
                    self._resend_unconfirmed()
                    self._fill_window()
                elif not self.link.connected.is_set():
                    self._inflight.clear()
            except Exception:  # keep delivering whatever one bad row or SQLite hiccup did
                log.exception("outbox delivery step failed")
                self._stop.wait(0.5)

    def _next_wait(self) -> float:
        """Sleep until woken, or until pending deletions are due (at most 0.25 s)."""
        if self._acked_since is None:
            return 0.25
        return min(0.25, max(0.0, self.delete_delay_s - (time.monotonic() - self._acked_since)))

    def _sweep_acks(self) -> None:
        """Move acknowledged messages (PUBACKs arrive in order) to the delete batch."""
        inflight = self._inflight
        now = time.time()
        while inflight and inflight[0][0].is_published():
            _, row_id, historical, receipt_seq = inflight.popleft()
            if receipt_seq is not None and self.receipts:
                self._awaiting[receipt_seq] = (row_id, time.monotonic())
            else:
                self._acked.append(row_id)
            self.published += 1
            self.replayed += historical
            self.last_sync = now
            if self._acked_since is None:
                self._acked_since = time.monotonic()

    def _take_receipts(self) -> None:
        """Confirmed results go to the delete batch (a range wider than what awaits is
        matched against what awaits, so a hostile [1, 2**62] costs no more than the backlog)."""
        awaiting = self._awaiting
        while self._receipts_in:
            for first, last in self._receipts_in.popleft():
                seqs = (range(first, last + 1) if last - first < len(awaiting)
                        else [s for s in awaiting if first <= s <= last])
                for seq in seqs:
                    entry = awaiting.pop(seq, None)
                    if entry is not None:
                        self._acked.append(entry[0])
                        self.confirmed += 1
                        if self._acked_since is None:
                            self._acked_since = time.monotonic()

    def _resend_unconfirmed(self) -> None:
        """The oldest PUBACKed result still unconfirmed after the timeout: send the outbox
        again from its oldest row (what was confirmed meanwhile is deleted first)."""
        if not self._awaiting:
            self._resend_now = False
            return
        oldest = next(iter(self._awaiting.values()))[1]
        if self._resend_now:
            log.info("a coordinator went offline before confirming %d results; sending them again",
                     len(self._awaiting))
        elif time.monotonic() - oldest < self.receipt_timeout_s:
            return
        else:
            log.warning("%d results PUBACKed but not confirmed by the coordinator within %.0f s; "
                        "sending them again", len(self._awaiting), self.receipt_timeout_s)
        self._resend_now = False
        self.resend_rounds += 1
        self._flush_deletes(force=True)
        self._generation = -1      # replay from the oldest row, flagged historical

    def _flush_deletes(self, force: bool = False) -> None:
        if not self._acked:
            return
        due = self._acked_since is not None and \
            time.monotonic() - self._acked_since >= self.delete_delay_s
        if force or due or len(self._acked) >= self.delete_batch:
            acked, self._acked, self._acked_since = self._acked, [], None
            self.outbox.delete(acked)

    def _fill_window(self) -> None:
        generation = self.link.connections
        if generation != self._generation:  # a new connection: replay from the oldest row
            self._generation = generation
            self._inflight.clear()
            self._awaiting.clear()       # still in the outbox: they go again now
            self._cursor = 0
            self._connected_at = time.time()
        room = self.window - len(self._inflight)
        while room > 0 and not self._stop.is_set():
            rows = self.outbox.fetch(self._cursor, min(room, 100))
            if not rows:
                return
            for row in rows:
                if not self._publish(row):
                    return
                room -= 1

    def _publish(self, row: OutboxRow) -> bool:
        historical = row.created < self._connected_at
        payload = row.payload
        if historical:
            try:
                payload = mark_historical(payload)
            except Exception:
                log.exception("outbox row %d is not a valid envelope; sending it unchanged", row.id)
        info = self.link.publish(row.topic, payload, row.qos, row.retain)
        if info is None:
            return False
        self._inflight.append((info, row.id, historical, row.receipt_seq))
        self._cursor = row.id
        return True
