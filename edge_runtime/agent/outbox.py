"""The durable outbox: every outgoing result is in SQLite before it is published.

Why: paho keeps unacknowledged QoS1 messages in memory only, so a crash, a reboot or a
long outage loses them (the failure seen in Greengrass' spooler and Node-RED). Here a
message is committed (SQLite WAL) *before* the first publish attempt and deleted only
after the broker's PUBACK (results: after the coordinator's receipt, when it sends them,
because a broker that PUBACKed may still drop a message past its queue limits), so
SIGKILL at any moment loses nothing; at worst a message
acknowledged just before the kill is sent again, and the coordinator drops that
duplicate by message id.

The outbox is bounded (rows and bytes). When full, ``drop_policy`` decides what goes:
``drop_oldest`` (default: keep recent data flowing) or ``drop_newest`` (keep history).
Every drop is counted, persisted, and reported in heartbeats.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

DROP_POLICIES = ("drop_oldest", "drop_newest")
SYNC_MODES = ("OFF", "NORMAL", "FULL")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the replay order
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created REAL NOT NULL,
    size INTEGER NOT NULL,
    receipt_seq INTEGER  -- set: kept after PUBACK until the coordinator confirms this seq
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
"""


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created: float
    receipt_seq: int | None = None


class Outbox:
    """Bounded, ordered, crash-safe message store (one SQLite file, WAL mode)."""

    def __init__(self, path: Path | str, max_messages: int = 100_000,
                 max_bytes: int = 64 * 1024 * 1024, drop_policy: str = "drop_oldest",
                 synchronous: str = "NORMAL"):
        if drop_policy not in DROP_POLICIES:
            raise ValueError(f"outbox drop_policy {drop_policy!r}: use one of {DROP_POLICIES}")
        if synchronous.upper() not in SYNC_MODES:
            raise ValueError(f"outbox synchronous {synchronous!r}: use one of {SYNC_MODES}")
        if max_messages < 1 or max_bytes < 1:
            raise ValueError("outbox max_messages and max_bytes must be >= 1")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.drop_policy = drop_policy
        self._lock = threading.Lock()
        # NORMAL in WAL mode: a commit survives a process crash (SIGKILL); FULL also a power cut.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
        if "receipt_seq" not in columns:   # an outbox written before end-to-end receipts
            self._db.execute("ALTER TABLE outbox ADD COLUMN receipt_seq INTEGER")
        count, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox").fetchone()
        self._count, self._bytes = int(count), int(size)
        self.dropped = int(self.get_meta("dropped", 0))

    # ----- meta values (dropped count, sequence number, last sync) --------------------------------
    def get_meta(self, key: str, default=None):
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else row[0]

    def set_meta(self, key: str, value) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # ----- writing --------------------------------------------------------------------------------
    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int | None:
        """Store one message; its row id, or None when ``drop_newest`` refused it."""
        ids = self.put_many([(topic, payload, qos, retain)])
        return ids[0]

    def put_many(self, messages: Iterable[tuple], meta: dict | None = None) -> list[int | None]:
        """Store messages in one transaction (one fsync at most); row id or None per message.

        A message is (topic, payload, qos, retain) or (topic, payload, qos, retain, receipt_seq):
        with a receipt_seq it stays after its PUBACK until the coordinator confirms having
        stored it (``Delivery``). ``meta`` key/values are written in the same transaction
        (e.g. the sequence number)."""
        now = time.time()
        ids: list[int | None] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                dropped_before = self.dropped
                for topic, payload, qos, retain, *receipt_seq in messages:
                    size = len(payload)
                    if not self._make_room(size):
                        ids.append(None)
                        continue
                    cur = self._db.execute(
                        "INSERT INTO outbox(topic, payload, qos, retain, created, size, receipt_seq) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (topic, payload, qos, int(retain), now, size, receipt_seq[0] if receipt_seq else None))
                    ids.append(cur.lastrowid)
                    self._count += 1
                    self._bytes += size
                if self.dropped != dropped_before:
                    self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('dropped', ?)",
                                     (self.dropped,))
                for key, value in (meta or {}).items():
                    self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                                     (key, value))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._recount()
                raise
        return ids

    def _make_room(self, size: int) -> bool:
        """Apply the drop policy so one message of ``size`` bytes fits (lock held, in a txn)."""
        if size > self.max_bytes:
            self.dropped += 1
            return False
        while self._count + 1 > self.max_messages or self._bytes + size > self.max_bytes:
            if self.drop_policy == "drop_newest" or self._count == 0:
                self.dropped += 1
                return False
            excess_rows = self._count + 1 - self.max_messages
            excess_bytes = self._bytes + size - self.max_bytes
            victims = self._db.execute("SELECT id, size FROM outbox ORDER BY id LIMIT ?",
                                       (max(1, min(excess_rows, 1000)),)).fetchall()
            freed_rows = freed_bytes = 0
            last_id = None
            for row_id, row_size in victims:
                last_id = row_id
                freed_rows += 1
                freed_bytes += row_size
                if freed_rows >= excess_rows and freed_bytes >= excess_bytes:
                    break
            self._db.execute("DELETE FROM outbox WHERE id <= ?", (last_id,))
            self._count -= freed_rows
            self._bytes -= freed_bytes
            self.dropped += freed_rows
        return True

    def _recount(self) -> None:
        count, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox").fetchone()
        self._count, self._bytes = int(count), int(size)

    # ----- delivery side ---------------------------------------------------------------------------
    def fetch(self, after_id: int = 0, limit: int = 100) -> list[OutboxRow]:
        """The next ``limit`` messages after ``after_id``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, retain, created, receipt_seq FROM outbox WHERE id > ? "
                "ORDER BY id LIMIT ?", (after_id, limit)).fetchall()
        return [OutboxRow(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5], r[6]) for r in rows]

    def delete(self, ids: list[int]) -> None:
        """Forget acknowledged messages (one transaction)."""
        if not ids:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for start in range(0, len(ids), 500):
                    chunk = ids[start:start + 500]
                    marks = ",".join("?" * len(chunk))
                    n, size = self._db.execute(
                        f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox WHERE id IN ({marks})",
                        chunk).fetchone()
                    self._db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", chunk)
                    self._count -= n
                    self._bytes -= size
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._recount()
                raise

    @property
    def backlog(self) -> int:
        return self._count

    @property
    def backlog_bytes(self) -> int:
        return self._bytes

    def stats(self) -> dict:
        return {"backlog": self._count, "backlog_bytes": self._bytes, "dropped": self.dropped,
                "max_messages": self.max_messages, "max_bytes": self.max_bytes,
                "drop_policy": self.drop_policy}

    def close(self) -> None:
        with self._lock:
            self._db.close()
