"""One leader among coordinator replicas: a PostgreSQL session advisory lock is the lease.

Ingest is split between replicas by the broker (shared subscriptions); work that must
run once for the fleet — timers, FL rounds, deployment rollouts — runs on the leader.
The leader is whoever holds ``pg_advisory_lock(key)`` on its own database session. When
its process dies (SIGKILL included) the kernel closes its socket, PostgreSQL ends the
session and frees the lock, and the next replica polling ``pg_try_advisory_lock`` takes
over: the takeover time is about one ``poll_s``. A leader that loses its database
connection stops being leader at once (it cannot know whether the lock survived).

    lease = LeaderLease(url, "fleet-default", on_change=lambda leader: ...).start()
    lease.is_leader
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(f"cloud-sync leader {name}".encode()).digest()[:8],
                          "big", signed=True)


class LeaderLease:
    def __init__(self, url: str, name: str, poll_s: float = 1.0,
                 on_change: Callable[[bool], None] | None = None):
        self.url = url
        self.name = name
        self.key = lock_key(name)
        self.poll_s = poll_s
        self.on_change = on_change
        self.is_leader = False
        self.elected_at: float | None = None
        self.terms = 0
        self._conn = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"leader-{name}", daemon=True)

    def start(self) -> "LeaderLease":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.poll_s + 5)
        if self._conn is not None:
            try:
                if self.is_leader:
                    self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
                self._conn.close()
            except Exception:
                pass
        self._set(False)

    def wait_leader(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_leader and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.is_leader

    def _set(self, leader: bool) -> None:
        if leader == self.is_leader:
            return
        self.is_leader = leader
        if leader:
            self.elected_at = time.time()
            self.terms += 1
        log.info("replica %s leadership for %s", "took" if leader else "lost", self.name)
        if self.on_change is not None:
            try:
                self.on_change(leader)
            except Exception:
                log.exception("leader change callback failed")

    def _run(self) -> None:
        import psycopg
        while not self._stop.is_set():
            try:
                if self._conn is None:
                    self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
                if self.is_leader:
                    self._conn.execute("SELECT 1")      # the session (and so the lock) is alive
                else:
                    got = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0]
                    self._set(bool(got))
            except Exception as exc:   # connection lost: not leader any more, reconnect
                log.warning("leader lease %s: %s", self.name, exc)
                self._set(False)
                try:
                    if self._conn is not None:
                        self._conn.close()
                except Exception:
                    pass
                self._conn = None
            self._stop.wait(self.poll_s)
