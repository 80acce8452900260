"""The burst client's PUBLISH fast path delivers exactly what paho's own path would.

Mixed traffic from a stock paho publisher: QoS0 and QoS1, retained, non-ASCII topics,
payloads from empty to 600 KB (multi-byte remaining lengths, packets split across
socket reads). Every message must arrive once, byte-exact (QoS1 in order), and every QoS1
message must have been acknowledged: a reconnect of the persistent session gets
nothing redelivered.
"""
from __future__ import annotations

import threading

import numpy as np
import paho.mqtt.client as mqtt

from cloud_sync.connection import make_client
from cloud_sync.protocol.fastclient import BurstClient
from edge_runtime.waiting import wait_until

TOPIC = "fast/ß-é/{i}"


def _subscriber(url: str, client_id: str, received: list, filtered: bool = False,
                recv_size: int | None = None) -> mqtt.Client:
    client = make_client(url, client_id, protocol="3.1.1", clean=False)
    assert isinstance(client, BurstClient)
    if recv_size is not None:   # small reads: nearly every packet is cut by a read's end
        client.RECV_SIZE = recv_size
    subscribed = threading.Event()
    record = lambda c, u, m: received.append((m.topic, bytes(m.payload), m.qos, m.retain))  # noqa: E731
    client.on_message = record
    if filtered:  # a per-topic callback must take paho's own path and still see everything
        client.message_callback_add("fast/#", record)
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_connect = lambda c, *a: c.subscribe("fast/#", qos=1)
    client.connect("127.0.0.1", int(url.rsplit(":", 1)[1]))
    client.loop_start()
    assert subscribed.wait(10), "no SUBACK"
    return client


def _stop(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def _messages(seed: int) -> list[tuple[str, bytes, int, bool]]:
    rng = np.random.default_rng(seed)
    sizes = [0, 1, 126, 127, 128, 16383, 16384, 600_000] + list(rng.integers(1, 3000, 400))
    out = []
    for i, size in enumerate(sizes):
        payload = rng.integers(0, 256, int(size), dtype=np.uint8).tobytes()
        out.append((TOPIC.format(i=i), payload, int(i % 3 != 0), False))
    return out


def _publish_all(port: int, messages) -> None:
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fast-pub")
    pub.max_inflight_messages_set(1000)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    infos = [pub.publish(t, p, qos=q) for t, p, q, _ in messages]
    for info in infos:
        info.wait_for_publish(30)
    pub.loop_stop()
    pub.disconnect()


def _check_stream(mosquitto, filtered: bool, recv_size: int | None = None) -> int:
    """Returns how many of the stream's messages the fast path delivered."""
    messages = _messages(seed=7)
    received: list = []
    client_id = f"fast-sub-{filtered}-{recv_size}"
    sub = _subscriber(mosquitto.url, client_id, received, filtered, recv_size)
    _publish_all(mosquitto.port, messages)
    wait_until(lambda: len(received) >= len(messages), 30,
               what=f"{len(messages)} messages (have {len(received)})")
    _stop(sub)
    fast = sub.fast_delivered
    # The broker may let a QoS0 message overtake QoS1 ones waiting for the in-flight
    # window (different topics: MQTT orders per topic and QoS); QoS1 keeps its order.
    assert sorted(received) == sorted(messages)
    assert [m for m in received if m[2] == 1] == [m for m in messages if m[2] == 1]
    # Every QoS1 message was PUBACKed: the persistent session has nothing to redeliver.
    # (A redelivery would come before the message queued while it was offline.)
    queued = [("fast/queued", b"after", 1, False)]
    _publish_all(mosquitto.port, queued)
    again: list = []
    sub = _subscriber(mosquitto.url, client_id, again, filtered)
    wait_until(lambda: len(again) >= 1, 10, what="the message queued while offline")
    _stop(sub)
    assert again[0] == queued[0]
    return fast


def test_fast_path_delivers_mixed_traffic_exactly_once(mosquitto):
    # Every PUBLISH, the ones cut by the end of a socket read included, takes the fast path:
    # before reads were joined, the first packet of every read went through paho's
    # (~3x dearer, and its topic matcher leaves a reference cycle per message).
    assert _check_stream(mosquitto, filtered=False) == len(_messages(seed=7))


def test_fast_path_joins_packets_cut_by_small_reads(mosquitto):
    assert _check_stream(mosquitto, filtered=False, recv_size=97) == len(_messages(seed=7))


def test_filtered_callbacks_keep_paho_path(mosquitto):
    assert _check_stream(mosquitto, filtered=True) == 0


def test_retained_flag_reaches_on_message(mosquitto):
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fast-pub-retain")
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    pub.publish("fast/retained", b"kept", qos=1, retain=True).wait_for_publish(10)
    pub.loop_stop()
    pub.disconnect()
    received: list = []
    sub = _subscriber(mosquitto.url, "fast-retain-sub", received)
    wait_until(lambda: received, 10, what="the retained message")
    _stop(sub)
    assert received[0] == ("fast/retained", b"kept", 1, True)


def test_qos0_many_arrives_byte_exact_on_both_protocol_versions(mosquitto):
    """publish_qos0_many writes PUBLISH packets by hand (the coordinator's receipts): a stock
    paho subscriber must get each one byte-exact, over MQTT 3.1.1 and 5 alike."""
    received: list = []
    subscriber = _subscriber(mosquitto.url, "bulk-sub", received)
    rng = np.random.default_rng(7)
    sizes = [0, 1, 126, 127, 128, 16_383, 16_384, 200_000]
    try:
        for protocol in ("3.1.1", "5"):
            publisher = make_client(mosquitto.url, f"bulk-{protocol}", protocol=protocol)
            assert isinstance(publisher, BurstClient)
            publisher.connect("127.0.0.1", int(mosquitto.url.rsplit(":", 1)[1]))
            publisher.loop_start()
            wait_until(publisher.is_connected, 10, what="the publisher connected")
            sent = [(TOPIC.format(i=f"{protocol}-{i}"), rng.bytes(n)) for i, n in enumerate(sizes)]
            assert publisher.publish_qos0_many(sent)
            wait_until(lambda: len(received) >= len(sent), 10, what="every bulk QoS0 message")
            assert [(t, p, q) for t, p, q, _ in received] == [(t, p, 0) for t, p in sent]
            received.clear()
            _stop(publisher)
    finally:
        _stop(subscriber)
