"""The coordinator's SQLite store: devices, results (keyed by message id), health, deployments.

Results use the envelope's message id as PRIMARY KEY and ``INSERT OR IGNORE``: the
at-least-once delivery of MQTT QoS1 plus outbox replay can deliver a message twice,
and it must be stored once. Writes come in batches (one transaction per batch) from
the ingest thread; reads use their own connection (WAL lets them run concurrently).
"""
from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from cloud_sync.coordinator import quarantine
from cloud_sync.protocol import decode

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, online INTEGER NOT NULL DEFAULT 0,
    state_online INTEGER NOT NULL DEFAULT 0, bd_seq INTEGER, last_seen REAL,
    heartbeat_s REAL, td TEXT, health TEXT, reported TEXT, desired TEXT);
CREATE TABLE IF NOT EXISTS results (
    msg_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, task TEXT NOT NULL, seq INTEGER,
    ts REAL, received REAL, historical INTEGER, payload BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS results_by_device_task ON results(device_id, task, ts);
CREATE TABLE IF NOT EXISTS health (device_id TEXT NOT NULL, ts REAL NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS health_by_device ON health(device_id, ts);
CREATE TABLE IF NOT EXISTS deploys (
    device_id TEXT NOT NULL, job TEXT NOT NULL, state TEXT, ts REAL, body TEXT,
    PRIMARY KEY (device_id, job));
"""

DEVICE_COLUMNS = ("device_id", "online", "state_online", "bd_seq", "last_seen", "heartbeat_s",
                  "td", "health", "reported", "desired")


ROWS_PER_STATEMENT = 100   # at most 4-8 parameters a row: far below SQLite's 32766


def execute_rows(db, head: str, rows: list[tuple], tail: str = "") -> None:
    """``head`` + ``(?, ...), (?, ...)`` + ``tail`` for all ``rows``, ROWS_PER_STATEMENT rows
    per statement (``head`` ends in VALUES: an INSERT, or ``UPDATE ... FROM (VALUES``).

    Python's sqlite3 releases and re-takes the GIL around every statement step. With one
    row per step (plain executemany) the writer queued for the GIL behind the network
    thread once per row, up to the 5 ms switch interval each time: in a 10k-device soak the
    health-history inserts and the last_seen mirror (a few thousand steps a second) left the
    writer storing ~500 results/s with 60k messages queued. Multi-row VALUES steps once per
    100 rows (results: 13.6 -> 5.4 us/row alone, 25 -> 16 us/row beside a busy thread)."""
    if not rows:
        return
    one = "(" + ",".join("?" * len(rows[0])) + ")"
    full = len(rows) - len(rows) % ROWS_PER_STATEMENT
    if full:
        db.executemany(head + ",".join([one] * ROWS_PER_STATEMENT) + tail,
                       [[value for row in rows[start:start + ROWS_PER_STATEMENT] for value in row]
                        for start in range(0, full, ROWS_PER_STATEMENT)])
    if full < len(rows):
        rest = rows[full:]
        db.execute(head + ",".join([one] * len(rest)) + tail, [value for row in rest for value in row])


def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                             isolation_level=None, timeout=10)
    else:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    return db


class Store:
    """``Store(data_dir)`` opens (creates) ``data_dir/coordinator.sqlite``."""

    def __init__(self, data_dir: Path | str, readonly: bool = False):
        self.path = Path(data_dir) / "coordinator.sqlite"
        if readonly and not self.path.exists():
            raise FileNotFoundError(f"no coordinator store at {self.path}: start "
                                    f"'cloud-sync coordinator --data {data_dir}' first")
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.write = _connect(self.path)
            self.write.executescript(_SCHEMA + quarantine.SCHEMA)
        self._read = _connect(self.path, readonly=readonly)
        self._read_lock = threading.Lock()

    def close(self) -> None:
        if hasattr(self, "write"):
            self.write.close()
        self._read.close()

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._read_lock:
            return self._read.execute(sql, params).fetchall()

    # ----- reads -------------------------------------------------------------------------------
    def devices(self) -> list[dict[str, Any]]:
        rows = self.query(f"SELECT {', '.join(DEVICE_COLUMNS)} FROM devices ORDER BY device_id")
        out = []
        for row in rows:
            item = dict(zip(DEVICE_COLUMNS, row))
            for key in ("td", "health", "reported", "desired"):
                item[key] = json.loads(item[key]) if item[key] else None
            item["online"] = bool(item["online"])
            item["state_online"] = bool(item["state_online"])
            out.append(item)
        return out

    def results(self, device: str | None = None, task: str | None = None,
                since: float | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        where, params = [], []
        for column, value, op in (("device_id", device, "="), ("task", task, "="), ("ts", since, ">=")):
            if value is not None:
                where.append(f"{column} {op} ?")
                params.append(value)
        sql = ("SELECT msg_id, device_id, task, seq, ts, received, historical, payload FROM results"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY ts, seq LIMIT ?")
        rows = self.query(sql, (*params, int(limit)))
        return [{"msg_id": r[0], "device_id": r[1], "task": r[2], "seq": r[3], "ts": r[4],
                 "received": r[5], "historical": bool(r[6]), "body": decode(bytes(r[7]))["body"]}
                for r in rows]

    def count_results(self, device: str | None = None, task: str | None = None) -> int:
        where, params = [], []
        for column, value in (("device_id", device), ("task", task)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = "SELECT COUNT(*) FROM results" + (" WHERE " + " AND ".join(where) if where else "")
        return self.query(sql, tuple(params))[0][0]

    def health_history(self, device: str, since: float | None = None,
                       limit: int = 1000) -> list[dict[str, Any]]:
        rows = self.query("SELECT ts, body FROM health WHERE device_id = ? AND ts >= ? "
                          "ORDER BY ts DESC LIMIT ?", (device, since or 0.0, int(limit)))
        return [{"ts": ts, "body": json.loads(body)} for ts, body in reversed(rows)]

    def deployments(self, device: str | None = None) -> list[dict[str, Any]]:
        rows = self.query("SELECT device_id, job, state, ts, body FROM deploys"
                          + (" WHERE device_id = ?" if device else "") + " ORDER BY ts",
                          (device,) if device else ())
        return [{"device_id": r[0], "job": r[1], "state": r[2], "ts": r[3],
                 "body": json.loads(r[4])} for r in rows]

    def rejected(self, reason: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Dead letters, newest first (``cloud_sync.coordinator.quarantine``)."""
        try:
            return quarantine.listing(self, reason, limit)
        except sqlite3.OperationalError:   # a store written before the table existed
            return []

    def rejection_counts(self) -> dict[str, int]:
        try:
            return quarantine.counts(self)
        except sqlite3.OperationalError:
            return {}
