"""Fuzz: 10,000 malformed messages on every subscribed topic while real traffic flows."""
from __future__ import annotations

import json
import random
from collections import Counter

import cbor2
import paho.mqtt.client as mqtt

from cloud_sync.protocol import SIZE_LIMITS, TopicTree, envelope
from edge_runtime.waiting import wait_until

N_FUZZ = 10_000
TOPICS = TopicTree()
# Every filter the coordinator subscribes to, as (kind, suffix) with a concrete name.
KINDS = [("result", "result/echo"), ("health", "health"), ("deploy", "deploy/j1"),
         ("state", "state"), ("td", "td"), ("config_reported", "config/reported"),
         ("cmd_reply", "cmd/ping/reply"), ("task_reply", "task/echo/reply")]


def _valid_body(kind: str) -> dict:
    return {"health": {"interval_s": 1.0}, "state": {"online": True},
            "td": {"@context": "x", "title": "t"}, "config_reported": {"version": 1, "config": {}},
            "cmd_reply": {"corr": "c" * 12, "ok": True}, "task_reply": {"corr": "c" * 12, "ok": True},
            }.get(kind, {})


def _malformed(rng: random.Random, kind: str, device: str) -> tuple[bytes, str]:
    """One hostile payload for ``kind`` and the rejection reason it must get."""
    good = envelope(device, 1, _valid_body(kind))
    choice = rng.randrange(9)
    if choice == 0:  # random bytes that are neither a JSON object nor a CBOR map
        return bytes([rng.randrange(0x00, 0x7B)]) + rng.randbytes(rng.randrange(0, 200)), "undecodable"
    if choice == 1:  # truncated CBOR
        data = cbor2.dumps(good)
        return data[:rng.randrange(1, len(data) - 1)], "undecodable"
    if choice == 2:  # truncated JSON
        data = json.dumps(good).encode()
        return data[:rng.randrange(1, len(data) - 1)], "undecodable"
    if choice == 3 and SIZE_LIMITS[kind] <= 256 * 1024:  # huge string: over the kind's limit
        bloat = dict(good, body={"blob": "A" * (SIZE_LIMITS[kind] + 10)})
        return json.dumps(bloat).encode(), "oversize"
    if choice == 3:  # kinds allowed MBs: a huge string where a short id belongs
        return json.dumps(dict(good, id="A" * 200_000)).encode(), "bad_envelope"
    if choice == 4:  # wrong envelope types
        field, value = rng.choice([("seq", "one"), ("ts", "now"), ("id", 7), ("body", [1, 2]),
                                   ("historical", "yes")])
        return json.dumps(dict(good, **{field: value})).encode(), "bad_envelope"
    if choice == 5:
        return json.dumps(dict(good, v=rng.choice([0, 2, "1", None]))).encode(), "bad_version"
    if choice == 6:
        return cbor2.dumps(dict(good, dev="someone-else")), "device_mismatch"
    if choice == 7:  # a decodable map that is not an envelope at all
        return cbor2.dumps({"hello": rng.random()}), "bad_version"
    if kind in ("result", "deploy"):  # bodies of these kinds are free-form: use an unknown topic
        return json.dumps(good).encode(), "unknown_topic"
    wrong = {"health": {"interval_s": "fast"}, "state": {"online": "maybe"},
             "td": {"title": 5}, "config_reported": {"version": "x", "config": {}},
             "cmd_reply": {"corr": 1, "ok": True}, "task_reply": {"corr": "c" * 12, "ok": "y"}}[kind]
    return json.dumps(dict(good, body=wrong)).encode(), "bad_body"


def test_fuzzed_messages_are_rejected_counted_and_valid_traffic_is_stored(
        mosquitto, make_coordinator, make_agent):
    coord = make_coordinator(mosquitto.url)
    agent = make_agent(mosquitto.url, "fz-real", tasks=[
        {"kind": "echo", "name": "echo", "interval_s": 0.01, "params": {"limit": 300, "per_step": 3}}])
    rng = random.Random(1234)
    expected: Counter[str] = Counter()
    messages = []
    for i in range(N_FUZZ):
        kind, suffix = KINDS[i % len(KINDS)]
        device = f"fz-{i % 7}"
        payload, reason = _malformed(rng, kind, device)
        topic = TOPICS.device(device if reason != "unknown_topic" else "bad device", suffix)
        messages.append((topic, payload))
        expected[reason] += 1

    fuzzer = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fuzzer")
    fuzzer.max_queued_messages_set(0)
    fuzzer.connect("127.0.0.1", mosquitto.port)
    fuzzer.loop_start()
    try:
        for topic, payload in messages:
            fuzzer.publish(topic, payload, qos=0)
        wait_until(lambda: coord.rejections.total >= N_FUZZ, 60,
                   what=f"{N_FUZZ} rejections (have {coord.rejections.total})")
    finally:
        fuzzer.loop_stop()
        fuzzer.disconnect()

    assert coord.rejections.snapshot() == dict(expected)
    assert coord.link.connected.is_set() and coord.writer._thread.is_alive()
    wait_until(lambda: coord.count_results("fz-real") == 300, 30, what="valid traffic stored")
    rows = coord.results(device="fz-real", limit=1000)
    assert sorted(r["seq"] for r in rows) == list(range(1, 301))
    assert coord.command("fz-real", "ping", timeout=10).ok  # still answering
    assert not any(d["device_id"].startswith("fz-") and d["device_id"] != "fz-real"
                   for d in coord.devices())  # nothing from the fuzz entered the registry
