"""Poison messages among valid traffic: the valid ones are all stored, the poison is
dead-lettered with its reason, and a retained poison costs nothing at reconnect.

Issue 15 measured one result with ``seq = 2**64`` losing a whole batch (1,000 of 5,000
stored) and a retained ``state`` with ``bdSeq = 2**70`` repeating the loss at every
coordinator (re)connect.
"""
from __future__ import annotations

import json

import paho.mqtt.client as mqtt
import pytest

from cloud_sync.coordinator.events import EventHub
from cloud_sync.coordinator.ingest import Inbound, IngestWriter
from cloud_sync.coordinator.store import Store
from cloud_sync.protocol import ProtocolError, TopicTree, encode, envelope, parse_message
from edge_runtime.waiting import wait_until

TOPICS = TopicTree()
N_VALID = 5000


def _publisher(url_port: int) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="poisoner")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    return client


def test_poison_result_and_retained_state_among_5000_valid(mosquitto, make_coordinator, tmp_path):
    data = tmp_path / "coord"
    coord = make_coordinator(mosquitto.url, data)
    pub = _publisher(mosquitto.port)
    poison_state = json.dumps(envelope("dev-p", 1, {"online": True, "bdSeq": 2**70})).encode()
    pub.publish(TOPICS.device("dev-p", "state"), poison_state, qos=1, retain=True).wait_for_publish(5)
    infos = []
    for i in range(N_VALID):
        if i == N_VALID // 2:
            bad = json.dumps(envelope("dev-p", 2**64, {"n": -1})).encode()
            infos.append(pub.publish(TOPICS.device("dev-p", "result/echo"), bad, qos=1))
        message = envelope(f"dev-{i % 5}", i, {"n": i})
        infos.append(pub.publish(TOPICS.device(message["dev"], "result/echo"), encode(message), qos=1))
    for info in infos:
        info.wait_for_publish(10)
    wait_until(lambda: coord.count_results() >= N_VALID and len(coord.rejected()) >= 2, 30,
               what="5,000 results stored and 2 dead letters")
    assert coord.flush(10)
    assert coord.count_results() == N_VALID
    letters = {row["topic"].rsplit("/", 1)[-1]: row for row in coord.rejected()}
    assert set(letters) == {"state", "echo"}
    assert letters["state"]["reason"] == letters["echo"]["reason"] == "out_of_range"
    assert "bdSeq" in letters["state"]["detail"] and "seq" in letters["echo"]["detail"]
    assert coord.stats()["rejected"] == {"out_of_range": 2}

    # Restart (a reconnect gets the retained poison again): one dead letter, its count bumped.
    coord.stop()
    again = make_coordinator(mosquitto.url, data)
    wait_until(lambda: any(r["count"] == 2 for r in again.rejected()), 15,
               what="the retained poison seen a second time")
    ok = envelope("dev-0", 10**6, {"n": "after restart"})
    pub.publish(TOPICS.device("dev-0", "result/echo"), encode(ok), qos=1).wait_for_publish(5)
    wait_until(lambda: again.count_results() == N_VALID + 1, 15, what="traffic after the restart")
    assert len(again.rejected()) == 2 and again.rejection_counts() == {"out_of_range": 3}
    pub.loop_stop()
    pub.disconnect()


def test_a_message_the_store_refuses_is_quarantined_and_the_batch_stored(tmp_path):
    """Bypasses validation on purpose: whatever slips past it, one row cannot sink a batch."""
    store, events = Store(tmp_path), EventHub()
    writer = IngestWriter(store, events)
    batch = []
    for i in range(300):
        message = envelope("dev-1", i, {"n": i})
        batch.append(Inbound("result", "dev-1", "t", message, encode(message), 1.0, "t/result/t"))
    poison = envelope("dev-1", 2**64, {"n": "poison"})
    batch.insert(150, Inbound("result", "dev-1", "t", poison, b"poison-bytes", 1.0, "t/poison"))
    for item in batch:
        writer.submit(item)
    writer.start()
    assert writer.flush(20)
    writer.stop()
    assert store.count_results() == 300 and writer.stored == 300
    [letter] = store.rejected()
    assert letter["topic"] == "t/poison" and letter["stage"] == "store"
    assert letter["reason"] == "store_error" and "OverflowError" in letter["detail"]
    assert writer.rejections.snapshot() == {"store_error": 1}
    assert store.devices()[0]["device_id"] == "dev-1"
    store.close()


def test_cloud_sync_rejected_lists_dead_letters_and_counts(tmp_path, capsys):
    from cloud_sync.cli import main
    from cloud_sync.coordinator import quarantine

    assert main(["rejected", "--data", str(tmp_path)]) != 0           # no store yet: a clear error
    assert "no coordinator store" in capsys.readouterr().err
    store = Store(tmp_path)
    store.write.execute("BEGIN")
    for i, reason in enumerate(["out_of_range", "out_of_range", "undecodable"]):
        quarantine.record(store.write, f"edge/v1/default/d/result/t{i}", b"PAYLOAD-%d" % i, reason, "why", "validation")
    quarantine.record(store.write, "edge/v1/default/d/result/t0", b"PAYLOAD-0", "out_of_range", "why", "validation")
    store.write.execute("COMMIT")
    assert main(["rejected", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("per reason: out_of_range 3, undecodable 1") and "PAYLOAD" not in out
    assert out.count("edge/v1/default/d/result/t") == 3 and " x2 " in out   # t0 seen twice
    assert main(["rejected", "--data", str(tmp_path), "--reason", "undecodable", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [r["topic"][-2:] for r in listing["rejected"]] == ["t2"]
    assert listing["counts"] == {"out_of_range": 3, "undecodable": 1}
    store.close()


@pytest.mark.parametrize("kind, message, field", [
    ("result", envelope("d", 2**63, {}), "seq"),
    ("result", envelope("d", 1, {}, ts=-5.0), "ts"),
    ("result", envelope("d", 1, {}, ts=1e12), "ts"),
    ("result", envelope("d", 1, {"deep": {"x": [1, 2, -2**63 - 1]}}), "64 bits"),
    ("state", envelope("d", 1, {"online": True, "bdSeq": -1}), "bdSeq"),
    ("health", envelope("d", 1, {"interval_s": 1e9}), "interval_s"),
    ("config_reported", envelope("d", 1, {"version": 2**64, "config": {}}), "version"),
    ("fl_update", envelope("d", 1, {"round": -3}), "round"),
])
def test_numeric_fields_are_range_checked_with_the_field_named(kind, message, field):
    with pytest.raises(ProtocolError) as caught:
        parse_message(kind, json.dumps(message).encode(), "d")
    assert caught.value.reason == "out_of_range" and field in caught.value.detail


def test_json_nan_and_deep_nesting_are_refused():
    nan = b'{"v":1,"id":"abcdefgh","dev":"d","seq":1,"ts":1.0,"body":{"x":NaN}}'
    with pytest.raises(ProtocolError, match="not finite"):
        parse_message("result", nan, "d")
    deep = envelope("d", 1, {"x": 1})
    for _ in range(40):
        deep["body"] = {"x": deep["body"]}
    with pytest.raises(ProtocolError, match="nests deeper"):
        parse_message("result", json.dumps(deep).encode(), "d")


def test_a_message_id_the_store_cannot_encode_is_refused():
    """JSON can carry a lone surrogate; SQLite cannot store it (UnicodeEncodeError)."""
    payload = b'{"v":1,"id":"abc\\ud800defgh","dev":"d","seq":1,"ts":1.0,"body":{}}'
    with pytest.raises(ProtocolError) as caught:
        parse_message("result", payload, "d")
    assert caught.value.reason == "bad_envelope" and "printable ASCII" in caught.value.detail
