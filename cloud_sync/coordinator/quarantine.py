"""Dead letters: every message the coordinator did not store, with the reason, kept to look at.

Two ways in: validation refused it (``stage='validation'``, the protocol reason), or the
store refused it inside a batch (``stage='store'``: the batch is retried message by
message, the rest stored, this one kept here). A row holds the topic, the SHA-256 of the
payload, the reason and its detail, size and first/last time seen; the same payload on
the same topic again (a retained poison ``state`` redelivered at every reconnect) only
bumps ``count`` — one small upsert, nothing lost, nothing repeated. The table is bounded
(``KEEP_ROWS``, oldest pruned) so a flood of junk cannot fill the disk.

``cloud-sync rejected`` and ``GET /api/rejected`` list the rows; per-reason totals come
from ``counts``.
"""
from __future__ import annotations

import hashlib
import time
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS rejected (
    topic TEXT NOT NULL, digest TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT,
    stage TEXT NOT NULL, size INTEGER NOT NULL, first_seen REAL NOT NULL, last_seen REAL NOT NULL,
    count INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (topic, digest));
CREATE INDEX IF NOT EXISTS rejected_by_time ON rejected(last_seen);
"""
KEEP_ROWS = 10_000
MAX_TOPIC_CHARS = 512
MAX_DETAIL_CHARS = 500
COLUMNS = ("topic", "digest", "reason", "detail", "stage", "size", "first_seen", "last_seen", "count")


def digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def record(db, topic: str, payload: bytes, reason: str, detail: str, stage: str,
           now: float | None = None) -> None:
    """Upsert one dead letter inside the caller's transaction."""
    now = time.time() if now is None else now
    db.execute(
        "INSERT INTO rejected(topic, digest, reason, detail, stage, size, first_seen, last_seen) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(topic, digest) DO UPDATE SET "
        "count = count + 1, last_seen = excluded.last_seen, reason = excluded.reason, "
        "detail = excluded.detail, stage = excluded.stage",
        (topic[:MAX_TOPIC_CHARS], digest(payload), reason, detail[:MAX_DETAIL_CHARS], stage,
         len(payload), now, now))


def prune(db, keep: int = KEEP_ROWS) -> None:
    db.execute("DELETE FROM rejected WHERE rowid IN (SELECT rowid FROM rejected "
               "ORDER BY last_seen DESC LIMIT -1 OFFSET ?)", (keep,))


def listing(store, reason: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first; ``reason`` filters."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM rejected"
    params: tuple = ()
    if reason:
        sql += " WHERE reason = ?"
        params = (reason,)
    rows = store.query(sql + " ORDER BY last_seen DESC LIMIT ?", (*params, int(limit)))
    return [dict(zip(COLUMNS, row)) for row in rows]


def counts(store) -> dict[str, int]:
    """Messages refused per reason (deliveries, repeats included), over the table's life."""
    return {reason: total for reason, total in
            store.query("SELECT reason, SUM(count) FROM rejected GROUP BY reason ORDER BY reason")}
