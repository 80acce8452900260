"""Fan-out of live events to browsers (server-sent events).

The coordinator's listener and the cloud-side loops (FL rounds, ED-ViT requests, LiDAR
fusion) ``publish`` small JSON-able summaries; each open ``/api/events`` connection owns
a bounded queue. A slow browser loses old events (it re-fetches state on the next one)
instead of making the coordinator wait or grow memory.
"""
from __future__ import annotations

import queue
import threading
from typing import Any


class LiveFeed:
    def __init__(self, per_client_queue: int = 256):
        self._clients: set[queue.Queue] = set()
        self._lock = threading.Lock()
        self._size = per_client_queue
        self.published = 0

    def subscribe(self) -> queue.Queue:
        q: queue.Queue = queue.Queue(maxsize=self._size)
        with self._lock:
            self._clients.add(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self._lock:
            self._clients.discard(q)

    def publish(self, event: dict[str, Any]) -> None:
        self.published += 1
        with self._lock:
            clients = list(self._clients)
        for q in clients:
            try:
                q.put_nowait(event)
            except queue.Full:
                try:
                    q.get_nowait()   # drop the oldest; the page re-fetches state anyway
                    q.put_nowait(event)
                except (queue.Empty, queue.Full):
                    pass

    @property
    def client_count(self) -> int:
        with self._lock:
            return len(self._clients)
