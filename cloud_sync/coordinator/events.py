"""Coordinator events: the live feed the fleet graph and the dashboard attach to.

Listeners run on one dispatcher thread fed by a bounded queue, so a slow listener
(a graph update, a browser stream) can never slow ingest down; if it falls a whole
queue behind, events are dropped and counted rather than stalling the store.
"""
from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)

GATHER_S = 0.01        # a woken dispatcher waits this long for more events (the feed is not hard real time)
GATHER_BELOW = 1000

EVENT_KINDS = ("td", "state", "health", "result", "reply", "deploy", "config",
               "resync")   # resync: {"online": {device: bool}} from the registry, after drops


@dataclass(frozen=True)
class Event:
    kind: str            # one of EVENT_KINDS
    device_id: str
    body: dict[str, Any] = field(default_factory=dict)
    ts: float = 0.0      # device timestamp of the message (unix seconds)


Listener = Callable[[Event], None]


class EventHub:
    def __init__(self, max_queue: int = 100_000):
        self.max_queue = max_queue
        self.dropped = 0
        self._listeners: list[Listener] = []
        self._queue: collections.deque[Event] = collections.deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add_listener(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    @property
    def pending(self) -> int:
        return len(self._queue)

    @property
    def has_listeners(self) -> bool:
        return bool(self._listeners)

    def emit(self, event: Event) -> None:
        if not self._listeners:
            return
        if len(self._queue) >= self.max_queue:
            self.dropped += 1
            return
        self._queue.append(event)
        if not self._wake.is_set():     # Event.set takes a lock and notifies: once per wake-up
            self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="coordinator-events", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not (self._stop.is_set() and not self._queue):
            self._wake.wait(0.5)
            if len(self._queue) < GATHER_BELOW and not self._stop.is_set():
                self._stop.wait(GATHER_S)     # let a burst gather: one wake-up per burst, not per event
            self._wake.clear()
            while self._queue:
                event = self._queue.popleft()
                for listener in list(self._listeners):
                    try:
                        listener(event)
                    except Exception:
                        log.exception("event listener %r failed on %s", listener, event.kind)
