"""Counts of refused messages by reason and kind, logged sparingly (a flood must not flood the log).

Shared by the coordinator's network thread and writer and by the agent: each refusal is counted
where it happens and shown on /metrics and the dashboard."""
from __future__ import annotations

import logging
import threading
from collections import Counter

from cloud_sync.protocol.validate import ProtocolError

log = logging.getLogger("cloud_sync.protocol.validate")   # the name operators' log filters know


class RejectionCounter:
    """Thread-safe counts of rejected messages by reason (and by kind)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_reason: Counter[str] = Counter()
        self.by_kind: Counter[str] = Counter()

    def count(self, error: ProtocolError, kind: str, topic: str) -> None:
        with self._lock:
            self.by_reason[error.reason] += 1
            self.by_kind[kind] += 1
            n = self.by_reason[error.reason]
        # Log the first few of each reason, then every 1000th: a flood must not flood the log.
        if n <= 5 or n % 1000 == 0:
            log.warning("rejected message on %s (%s, #%d of this reason): %s",
                        topic, kind, n, error)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.by_reason.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.by_reason)
