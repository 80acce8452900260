"""Durable outbox: order, persistence across reopen, bounded size with counted drop policies."""
from __future__ import annotations

import pytest

from cloud_sync.protocol import decode, encode, envelope
from edge_runtime.agent.delivery import mark_historical
from edge_runtime.agent.outbox import Outbox


def _fill(box: Outbox, n: int, start: int = 1) -> None:
    box.put_many([("t", encode(envelope("d", i, {"i": i}, ts=1.0)), 1, False) for i in range(start, start + n)])


def _seqs(box: Outbox) -> list[int]:
    return [decode(row.payload)["seq"] for row in box.fetch(0, 10_000)]


def test_rows_survive_reopen_in_order_and_delete_by_id(tmp_path):
    box = Outbox(tmp_path / "o.sqlite")
    _fill(box, 50)
    box.set_meta("seq", 50)
    box.close()  # like a process exit: nothing else is flushed
    box = Outbox(tmp_path / "o.sqlite")
    assert box.backlog == 50 and box.get_meta("seq") == 50
    rows = box.fetch(0, 20)
    assert [decode(r.payload)["seq"] for r in rows] == list(range(1, 21))
    box.delete([r.id for r in rows[:10]])
    assert box.backlog == 40
    assert _seqs(box)[0] == 11
    assert [decode(r.payload)["seq"] for r in box.fetch(rows[14].id, 3)] == [16, 17, 18]


@pytest.mark.parametrize("policy, kept", [("drop_oldest", list(range(11, 21))),
                                          ("drop_newest", list(range(1, 11)))])
def test_full_outbox_applies_and_counts_its_drop_policy(tmp_path, policy, kept):
    box = Outbox(tmp_path / "o.sqlite", max_messages=10, drop_policy=policy)
    _fill(box, 20)
    assert _seqs(box) == kept
    assert box.dropped == 10 and box.stats()["dropped"] == 10
    box.close()
    assert Outbox(tmp_path / "o.sqlite", max_messages=10, drop_policy=policy).dropped == 10


def test_byte_bound_drops_oldest_until_the_new_message_fits(tmp_path):
    one = len(encode(envelope("d", 1, {"i": 1}, ts=1.0)))  # all rows: same size
    box = Outbox(tmp_path / "o.sqlite", max_bytes=5 * one + 2)
    _fill(box, 8)
    assert box.backlog == 5 and box.backlog_bytes <= 5 * one + 2
    assert _seqs(box) == [4, 5, 6, 7, 8] and box.dropped == 3


def test_bad_policy_is_refused_with_the_choices(tmp_path):
    with pytest.raises(ValueError, match="drop_oldest"):
        Outbox(tmp_path / "o.sqlite", drop_policy="drop_random")


def test_historical_flag_keeps_the_message_id():
    payload = encode(envelope("d", 3, {"x": 1}))
    replayed = decode(mark_historical(payload))
    assert replayed["historical"] is True and replayed["id"] == decode(payload)["id"]


def test_an_outbox_from_before_receipts_opens_and_keeps_its_rows(tmp_path):
    """An outbox.sqlite written before end-to-end receipts (no receipt_seq column) is migrated
    in place: its rows survive and new rows carry their receipt seq."""
    import sqlite3
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, "
                     "payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, "
                     "created REAL NOT NULL, size INTEGER NOT NULL);"
                     "CREATE TABLE meta (key TEXT PRIMARY KEY, value);"
                     "INSERT INTO outbox(topic, payload, qos, retain, created, size) VALUES ('t', x'01', 1, 0, 1.0, 1);")
    db.commit()
    db.close()
    box = Outbox(path)
    box.put_many([("t", b"\x02", 1, False, 7)])
    rows = box.fetch()
    assert [(r.payload, r.receipt_seq) for r in rows] == [(b"\x01", None), (b"\x02", 7)]
    box.close()
