"""Cloud-side activity the dashboard shows next to device results.

Some records are made in the cloud, not on a device: FL rounds, ED-ViT requests (with
per-device latency), fused LiDAR global tracks. They are appended here (SQLite under the
coordinator's data dir, so they survive a restart) and announced on the live feed.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable

from cloud_sync.dashboard.server import jsonable

_SCHEMA = """CREATE TABLE IF NOT EXISTS activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, ts REAL NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS activity_by_kind ON activity(kind, id);"""


class ActivityLog:
    def __init__(self, data_dir: Path | str, notify: Callable[[dict], None] | None = None):
        path = Path(data_dir) / "activity.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._notify = notify

    def record(self, kind: str, body: dict[str, Any], ts: float | None = None) -> None:
        ts = time.time() if ts is None else ts
        with self._lock:
            self._db.execute("INSERT INTO activity(kind, ts, body) VALUES (?, ?, ?)",
                             (kind, ts, json.dumps(body, default=jsonable)))
        if self._notify:
            self._notify({"kind": kind, "ts": ts})

    def recent(self, kind: str, limit: int = 200) -> list[dict[str, Any]]:
        """The newest ``limit`` records of ``kind``, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT ts, body FROM activity WHERE kind = ? "
                                    "ORDER BY id DESC LIMIT ?", (kind, limit)).fetchall()
        return [{"ts": ts, **json.loads(body)} for ts, body in reversed(rows)]

    def count(self, kind: str) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM activity WHERE kind = ?", (kind,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()

