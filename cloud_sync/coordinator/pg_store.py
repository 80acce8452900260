"""The coordinator's results and registry in PostgreSQL (psycopg 3), selected by URL.

    store = open_store("postgresql://coord@db:5432/fleet")   # or a data dir: SQLite (default)

Why a dialect layer instead of a second writer: the ingest writer (``ingest.py``) is one
careful piece of batching, idempotence and retry logic; keeping one copy of it matters
more than hiding that it speaks SQLite's SQL. ``PgStore`` is a ``Store`` whose two
connections accept the statements the writer and the readers send and translate the few
SQLite-only forms they use:

* ``INSERT OR IGNORE`` → ``INSERT … ON CONFLICT DO NOTHING`` (idempotence by message id);
* ``INSERT OR REPLACE`` → ``INSERT … ON CONFLICT (key) DO UPDATE SET …`` (deploy states);
* ``rowid`` → ``ctid`` and ``LIMIT -1 OFFSET`` → ``OFFSET`` (bounded tables pruned);
* ``BEGIN IMMEDIATE`` → ``BEGIN`` + a transaction advisory lock: SQLite serialises
  writers, and so do we, so replicas updating the same device rows in different
  orders can never deadlock;
* ``?`` placeholders → ``%s``; ``total_changes`` is kept from the row counts.

A statement it does not know is passed through unchanged (it fails loudly if PostgreSQL
disagrees). A lost database connection surfaces as ``sqlite3.OperationalError`` — the
error the writer already treats as "store unavailable: keep the batch, retry".
"""
from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

from cloud_sync.coordinator import quarantine
from cloud_sync.coordinator.store import _SCHEMA, Store

PG_SCHEMES = ("postgresql://", "postgres://")
WRITER_LOCK_KEY = 0x636C6F7564  # 'cloud': serialises ingest transactions across replicas
PRIMARY_KEYS = {"devices": ("device_id",), "results": ("msg_id",), "deploys": ("device_id", "job"),
                "rejected": ("topic", "digest")}
_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO", re.IGNORECASE)
_OR_REPLACE = re.compile(r"^\s*INSERT\s+OR\s+REPLACE\s+INTO\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE)


class PgOperationalError(sqlite3.OperationalError):
    """PostgreSQL unreachable or the connection lost (the writer keeps the batch and retries)."""


def is_postgres_url(location) -> bool:
    return isinstance(location, str) and location.startswith(PG_SCHEMES)


def open_store(location, readonly: bool = False) -> Store:
    """A data directory → SQLite ``Store``; a ``postgresql://`` URL → ``PgStore``."""
    if is_postgres_url(location):
        return PgStore(location, readonly=readonly)
    return Store(location, readonly=readonly)


def schema_for_postgres(sqlite_schema: str) -> str:
    text = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sqlite_schema)
    text = re.sub(r"\bINTEGER\b", "BIGINT", text)
    return re.sub(r"\bBLOB\b", "BYTEA", text)


def to_postgres(sql: str) -> str:
    """Translate one statement of the coordinator's SQLite dialect (see the module doc)."""
    text = sql.replace("%", "%%")
    replace = _OR_REPLACE.match(text)
    if replace:
        table, columns = replace.group(1), [c.strip() for c in replace.group(2).split(",")]
        keys = PRIMARY_KEYS.get(table.lower())
        if keys is None:
            raise ValueError(f"INSERT OR REPLACE into {table}: no primary key known for it")
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in keys)
        text = (re.sub(r"^\s*INSERT\s+OR\s+REPLACE\s+INTO", "INSERT INTO", text, flags=re.IGNORECASE)
                + f" ON CONFLICT ({', '.join(keys)}) DO "
                + (f"UPDATE SET {updates}" if updates else "NOTHING"))
    elif _OR_IGNORE.match(text):
        text = _OR_IGNORE.sub("INSERT INTO", text) + " ON CONFLICT DO NOTHING"
    text = re.sub(r"\browid\b", "ctid", text)
    text = re.sub(r"LIMIT\s+-1\s+OFFSET", "OFFSET", text, flags=re.IGNORECASE)
    return text.replace("?", "%s")


class PgConnection:
    """The subset of ``sqlite3.Connection`` the coordinator uses, on one psycopg connection."""

    def __init__(self, url: str):
        import psycopg
        self._psycopg = psycopg
        try:
            self._conn = psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise PgOperationalError(f"cannot connect to {_redacted(url)}: {exc}") from None
        self.total_changes = 0
        self._translated: dict[str, str] = {}

    def _sql(self, sql: str) -> str:
        text = self._translated.get(sql)
        if text is None:
            text = self._translated[sql] = to_postgres(sql)
        return text

    def execute(self, sql: str, params=()):
        head = sql.strip().upper()
        try:
            if head == "BEGIN IMMEDIATE":
                self._conn.execute("BEGIN")
                return self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK_KEY,))
            cursor = self._conn.execute(self._sql(sql), tuple(params) if params else None)
        except self._psycopg.OperationalError as exc:
            raise PgOperationalError(str(exc)) from None
        if cursor.rowcount and cursor.rowcount > 0 and not head.startswith("SELECT"):
            self.total_changes += cursor.rowcount
        return cursor

    def executemany(self, sql: str, seq_of_params):
        try:
            with self._conn.cursor() as cursor:
                cursor.executemany(self._sql(sql), [tuple(p) for p in seq_of_params])
                if cursor.rowcount and cursor.rowcount > 0:
                    self.total_changes += cursor.rowcount
        except self._psycopg.OperationalError as exc:
            raise PgOperationalError(str(exc)) from None

    def executescript(self, script: str) -> None:
        for statement in (s.strip() for s in script.split(";")):
            if statement:
                self._conn.execute(statement)

    def close(self) -> None:
        self._conn.close()


class PgStore(Store):
    """``Store`` on PostgreSQL: same tables (PostgreSQL types), same queries, same writer."""

    def __init__(self, url: str, readonly: bool = False):
        self.url = url
        self.path = Path(_redacted(url))   # what logs and runtime files show (no password)
        if not readonly:
            self.write = PgConnection(url)
            with self._schema_lock():
                self.write.executescript(schema_for_postgres(_SCHEMA + quarantine.SCHEMA))
        self._read = PgConnection(url)
        self._read_lock = threading.Lock()

    def _schema_lock(self):
        """Replicas starting together must not race on CREATE TABLE IF NOT EXISTS."""
        store = self

        class _Lock:
            def __enter__(self):
                store.write.execute("SELECT pg_advisory_lock(%s)" % (WRITER_LOCK_KEY + 1))

            def __exit__(self, *exc):
                store.write.execute("SELECT pg_advisory_unlock(%s)" % (WRITER_LOCK_KEY + 1))
        return _Lock()

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._read_lock:
            return self._read.execute(sql, params).fetchall()


def _redacted(url: str) -> str:
    return re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", url)
