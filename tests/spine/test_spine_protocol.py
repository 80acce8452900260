"""Protocol module: topics, envelope encoding, validators, URL parsing (no broker needed)."""
from __future__ import annotations

import json

import cbor2
import numpy as np
import pytest

from cloud_sync.connection import BrokerUrl
from cloud_sync.protocol import (SIZE_LIMITS, ProtocolError, RejectionCounter, TopicTree, decode,
                                 encode, envelope, parse_message)


def test_arrays_round_trip_through_cbor_with_dtype_and_shape():
    rng = np.random.default_rng(0)
    body = {"w": rng.normal(size=(3, 4, 5)).astype(np.float32),
            "q": rng.integers(-128, 127, size=(7,), dtype=np.int8),
            "meta": {"round": 3, "scale": np.float32(0.5)}}
    payload = encode(envelope("pi-1", 1, body))
    assert payload[0] >= 0xA0  # CBOR map, not JSON
    back = parse_message("result", payload, "pi-1")["body"]
    for key in ("w", "q"):
        assert back[key].dtype == body[key].dtype and back[key].shape == body[key].shape
        np.testing.assert_array_equal(back[key], body[key])
    assert back["meta"] == {"round": 3, "scale": 0.5}


def test_control_messages_stay_json():
    payload = encode(envelope("pi-1", 2, {"online": True}))
    assert json.loads(payload)["body"] == {"online": True}


@pytest.mark.parametrize("topic, kind, device, name", [
    ("edge/v1/default/pi-1/state", "state", "pi-1", None),
    ("edge/v1/default/pi-1/result/traffic", "result", "pi-1", "traffic"),
    ("edge/v1/default/pi-1/cmd/ping/reply", "cmd_reply", "pi-1", "ping"),
    ("edge/v1/default/pi-1/task/edvit/request", "task_request", "pi-1", "edvit"),
    ("edge/v1/default/pi-1/deploy/job-7", "deploy", "pi-1", "job-7"),
    ("edge/v1/default/pi-1/deploy/job-7/order", "deploy_order", "pi-1", "job-7"),
    ("edge/v1/default/fl/12/global", "fl_global", None, "12"),
    ("edge/v1/default/_sys/coordinator/r1", "coordinator_state", None, "r1"),
])
def test_topic_routes(topic, kind, device, name):
    route = TopicTree().route(topic)
    assert (route.kind, route.device_id, route.name) == (kind, device, name)


@pytest.mark.parametrize("topic", ["edge/v1/default/bad id/state", "edge/v2/default/pi/state",
                                   "edge/v1/default/pi-1/nonsense", "other/topic"])
def test_foreign_topics_do_not_route(topic):
    assert TopicTree().route(topic) is None


def _env(**changes):
    message = envelope("pi-1", 1, {"interval_s": 5.0})
    message.update(changes)
    return json.dumps(message).encode()


@pytest.mark.parametrize("payload, reason", [
    (b"\x00\x01garbage", "undecodable"),
    (b"[1, 2]", "undecodable"),
    (cbor2.dumps(envelope("pi-1", 1, {"interval_s": 5.0}))[:20], "undecodable"),
    (b'{"v": 1, "id": ', "undecodable"),
    (_env(v=2), "bad_version"),
    (_env(seq="x"), "bad_envelope"),
    (_env(body=[1]), "bad_envelope"),
    (_env(dev="other"), "device_mismatch"),
    (_env(body={"interval_s": "fast"}), "bad_body"),
    (_env(body={"interval_s": -1}), "out_of_range"),
    (_env(body={"interval_s": 1, "tasks": {"x": "y" * 70_000}}), "oversize"),
])
def test_each_malformed_health_message_is_rejected_with_its_reason(payload, reason):
    with pytest.raises(ProtocolError) as info:
        parse_message("health", payload, "pi-1")
    assert info.value.reason == reason


def test_size_limit_is_checked_before_decoding_and_counted():
    counter = RejectionCounter()
    huge = b"{" + b" " * (SIZE_LIMITS["state"] + 1)
    with pytest.raises(ProtocolError) as info:
        parse_message("state", huge, "pi-1")
    counter.count(info.value, "state", "t")
    assert counter.snapshot() == {"oversize": 1}


def test_decode_inverts_encode_for_nested_bodies():
    message = envelope("d", 9, {"a": [1, 2, {"b": None}], "c": "é"})
    assert decode(encode(message)) == message


def test_broker_urls_parse_credentials_and_tls_options():
    url = BrokerUrl.parse("mqtts://dev%401:s%3Acret@cloud.example?ca=/ca.pem&cert=/c.pem&key=/k.pem")
    assert (url.host, url.port, url.username, url.password) == ("cloud.example", 8883, "dev@1", "s:cret")
    assert (url.ca, url.cert, url.key, url.tls) == ("/ca.pem", "/c.pem", "/k.pem", True)
    assert "s:cret" not in str(url)
    assert BrokerUrl.parse("mqtt://h").port == 1883
    assert BrokerUrl.parse("mqtt://h:1?protocol=3.1.1").protocol_version() == "3.1.1"
    for bad in ("http://h", "mqtt://", "mqtt://h?cert=a", "mqtt://h?color=red", "mqtt://h:x"):
        with pytest.raises(ValueError):
            BrokerUrl.parse(bad)
