"""The SQLite statements of the ingest writer, as PostgreSQL receives them (no server needed)."""
from __future__ import annotations

import sqlite3

import pytest

from cloud_sync.coordinator.pg_store import PgConnection, is_postgres_url, schema_for_postgres, to_postgres
from cloud_sync.mosquitto import free_port


def test_statements_are_translated():
    assert to_postgres("INSERT OR IGNORE INTO devices(device_id) VALUES (?)") == \
        "INSERT INTO devices(device_id) VALUES (%s) ON CONFLICT DO NOTHING"
    assert to_postgres("INSERT OR REPLACE INTO deploys(device_id, job, state) VALUES (?, ?, ?)") == \
        ("INSERT INTO deploys(device_id, job, state) VALUES (%s, %s, %s) "
         "ON CONFLICT (device_id, job) DO UPDATE SET state = EXCLUDED.state")
    assert to_postgres("DELETE FROM health WHERE rowid IN (SELECT rowid FROM health "
                       "ORDER BY ts DESC LIMIT -1 OFFSET ?)") == \
        "DELETE FROM health WHERE ctid IN (SELECT ctid FROM health ORDER BY ts DESC OFFSET %s)"
    assert to_postgres("SELECT x FROM t WHERE a LIKE 'p%' AND b = ?") == \
        "SELECT x FROM t WHERE a LIKE 'p%%' AND b = %s"
    with pytest.raises(ValueError, match="no primary key"):
        to_postgres("INSERT OR REPLACE INTO unknown_table(a) VALUES (?)")
    schema = schema_for_postgres("CREATE TABLE t (a REAL, b INTEGER, c BLOB, d TEXT)")
    assert schema == "CREATE TABLE t (a DOUBLE PRECISION, b BIGINT, c BYTEA, d TEXT)"
    assert is_postgres_url("postgresql://u@h/db") and not is_postgres_url("/var/lib/fleet")


def test_an_unreachable_database_is_the_writers_retryable_error():
    with pytest.raises(sqlite3.OperationalError, match="cannot connect") as caught:
        PgConnection(f"postgresql://nobody:secret@127.0.0.1:{free_port()}/x?connect_timeout=2")
    assert "secret" not in str(caught.value)          # the password never reaches a log
