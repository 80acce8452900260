"""End-to-end receipts: the coordinator tells each device which of its results it has committed.

Why: QoS1 is hop by hop. The broker PUBACKs a device's result when it has queued it, and a
broker whose queue for the coordinator overflows drops what it had PUBACKed (Mosquitto's
``max_queued_messages``: 294,570 results lost in a loaded 10k-device soak, all PUBACKed). So
the agent keeps a result after its PUBACK until a receipt names it, and sends it again when
none comes (edge_runtime.agent.delivery).

Cost: one QoS0 message per device per ``interval_s`` that had results, naming seq ranges
(``{"seqs": [[first, last], ...]}``); the writer thread only appends (device, seq) pairs.
A lost receipt costs a resend, which the store drops as a duplicate and receipts again.
Results that were dead-lettered by the store are receipted too: they are kept (``rejected``
table), and resending them would fail the same way.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterable

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 5.0
MAX_RANGES = 4096           # per message (the device's validator allows this many)


def seq_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """Sorted, merged [first, last] ranges of a collection of seqs (duplicates allowed)."""
    ranges: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


class ReceiptBook:
    """Committed (device, seq) pairs, sent as one receipt per device every ``interval_s``."""

    def __init__(self, send: Callable[[list[tuple[str, list[list[int]]]]], bool],
                 interval_s: float = DEFAULT_INTERVAL_S):
        self._send = send
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._pending: dict[str, list[int]] = {}
        self._last_flush = time.monotonic()
        self.sent = 0              # receipt messages published
        self.confirmed = 0         # seqs named in them
        self.unsent = 0            # seqs whose receipt could not be published (the device resends)

    def note(self, items: Iterable) -> None:
        """Writer thread, after COMMIT: remember the committed results' seqs."""
        with self._lock:
            pending = self._pending
            for item in items:
                if item.kind == "result":
                    pending.setdefault(item.device_id, []).append(item.message["seq"])

    def flush_if_due(self, now: float | None = None) -> int:
        """Send what is pending when ``interval_s`` has passed; the number of receipts sent."""
        now = time.monotonic() if now is None else now
        if now - self._last_flush < self.interval_s:
            return 0
        self._last_flush = now
        return self.flush()

    def flush(self) -> int:
        """Send every pending receipt (``send`` gets them all at once: one socket write)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        receipts = []
        for device_id, seqs in pending.items():
            ranges = seq_ranges(seqs)
            receipts += [(device_id, ranges[start:start + MAX_RANGES])
                         for start in range(0, len(ranges), MAX_RANGES)]
        if not receipts:
            return 0
        count = sum(last - first + 1 for _, part in receipts for first, last in part)
        if not self._send(receipts):
            self.unsent += count
            return 0
        self.sent += len(receipts)
        self.confirmed += count
        return len(receipts)

    def stats(self) -> dict:
        with self._lock:
            waiting = sum(len(v) for v in self._pending.values())
        return {"receipts_sent": self.sent, "receipts_confirmed": self.confirmed,
                "receipts_unsent": self.unsent, "receipts_waiting": waiting}
