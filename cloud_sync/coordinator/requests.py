"""Request/response over MQTT: correlation ids, one reply subscription, deadlines.

Used for device commands (``cmd/<name>``) and for task requests (``task/<name>/request``),
the fleet transport of federated learning and split inference. The requester
subscribes once to every reply topic of the fleet; each request registers a slot under
a fresh correlation id and waits on it, so a round trip costs two publishes and no
subscribe (a few ms on loopback).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable

from cloud_sync.protocol import TopicTree, encode, envelope, new_message_id
from cloud_sync.protocol.link import Link


@dataclass
class Reply:
    device_id: str
    ok: bool
    body: Any                 # the handler's result (dict), None on error
    error: str | None
    latency_s: float
    bytes_out: int            # MQTT payload bytes of the request
    bytes_in: int             # MQTT payload bytes of the reply
    corr: str


class _Slot:
    __slots__ = ("event", "device_id", "sent", "bytes_out", "reply")

    def __init__(self, device_id: str, bytes_out: int):
        self.event = threading.Event()
        self.device_id = device_id
        self.sent = time.perf_counter()
        self.bytes_out = bytes_out
        self.reply: Reply | None = None


class Requester:
    """Sends requests on ``link`` and matches replies by correlation id.

    The owner routes every reply message (``cmd_reply`` / ``task_reply``) to ``resolve``
    and subscribes to ``reply_filters()`` when its link connects."""

    def __init__(self, link: Link, topics: TopicTree, sender: str = "coordinator"):
        self.link = link
        self.topics = topics
        self.sender = sender
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        self._seq = 0
        self.late_replies = 0

    def reply_filters(self) -> list[tuple[str, int]]:
        return [(self.topics.all_devices("cmd/+/reply"), 1),
                (self.topics.all_devices("task/+/reply"), 1)]

    def resolve(self, device_id: str, body: dict[str, Any], payload_size: int) -> Reply | None:
        """Hand a validated reply body to the waiting request; None if nobody waits (late)."""
        with self._lock:
            slot = self._slots.pop(body["corr"], None)
        if slot is None:
            self.late_replies += 1
            return None
        slot.reply = Reply(device_id, body["ok"], body.get("result"), body.get("error"),
                           time.perf_counter() - slot.sent, slot.bytes_out, payload_size, body["corr"])
        slot.event.set()
        return slot.reply

    def _send(self, device_id: str, suffix: str, args: dict[str, Any], qos: int) -> tuple[str, _Slot]:
        corr = new_message_id()
        with self._lock:
            self._seq += 1
            seq = self._seq
        payload = encode(envelope(device_id, seq, {"corr": corr, "args": args}))
        slot = _Slot(device_id, len(payload))
        with self._lock:
            self._slots[corr] = slot
        slot.sent = time.perf_counter()
        if self.link.publish(self.topics.device(device_id, suffix), payload, qos) is None:
            with self._lock:
                self._slots.pop(corr, None)
            raise ConnectionError(f"not connected to the broker {self.link.url}; cannot reach {device_id}")
        return corr, slot

    def _forget(self, corr: str) -> None:
        with self._lock:
            self._slots.pop(corr, None)

    def call(self, device_id: str, suffix: str, args: dict[str, Any], timeout_s: float,
             qos: int = 1) -> Reply:
        """One request; raises TimeoutError when no reply arrives within ``timeout_s``."""
        corr, slot = self._send(device_id, suffix, args, qos)
        if not slot.event.wait(timeout_s):
            self._forget(corr)
            raise TimeoutError(f"no reply from {device_id} to {suffix} within {timeout_s:.1f} s")
        return slot.reply

    def call_many(self, device_ids: Iterable[str], suffix: str, args: dict[str, Any],
                  deadline_s: float, qos: int = 1) -> dict[str, Reply | None]:
        """Fan out to every device; what arrived by the deadline, None for the rest."""
        deadline = time.monotonic() + deadline_s
        sent: dict[str, tuple[str, _Slot] | None] = {}
        for device_id in device_ids:
            try:
                sent[device_id] = self._send(device_id, suffix, args, qos)
            except ConnectionError:
                sent[device_id] = None
        out: dict[str, Reply | None] = {}
        for device_id, pending in sent.items():
            if pending is None:
                out[device_id] = None
                continue
            corr, slot = pending
            if slot.event.wait(max(0.0, deadline - time.monotonic())):
                out[device_id] = slot.reply
            else:
                self._forget(corr)
                out[device_id] = None
        return out


class RequestClient:
    """A stand-alone requester (its own connection), for ``cloud-sync cmd`` and scripts that
    need to talk to devices without running a coordinator."""

    def __init__(self, broker_url: str, topics: TopicTree, client_id: str | None = None):
        from cloud_sync.protocol import ProtocolError, parse_message

        self._parse, self._error = parse_message, ProtocolError
        self.topics = topics
        self.link = Link(broker_url, client_id or f"cli-{new_message_id()[:8]}",
                         on_connect=self._on_connect, on_message=self._on_message)
        self.requester = Requester(self.link, topics, sender="cli")
        self._subscribed = threading.Event()

    def __enter__(self) -> "RequestClient":
        self.link.start()
        if not self._subscribed.wait(10.0):
            self.link.stop()
            raise ConnectionError(f"could not connect to {self.link.url}: {self.link.last_error}")
        return self

    def __exit__(self, *exc) -> None:
        self.link.stop()

    def _on_connect(self, link: Link) -> None:
        link.subscribe_and_wait(self.requester.reply_filters())
        self._subscribed.set()

    def _on_message(self, topic: str, payload: bytes, retain: bool) -> None:
        route = self.topics.route(topic)
        if route is None or route.kind not in ("cmd_reply", "task_reply"):
            return
        try:
            message = self._parse(route.kind, payload, route.device_id)
        except self._error:
            return
        self.requester.resolve(route.device_id, message["body"], len(payload))
