"""One virtual device: the agent's protocol without the agent's threads and files.

It does what ``edge_runtime.agent`` does on the wire, in the same order: connect with a
retained ``state`` last will (``online: false`` + bdSeq), publish the TD and
``config/reported`` (retained), then ``state`` online; QoS0 heartbeats with the outbox
backlog; results through a durable-style outbox (kept until PUBACK, replayed in order
on every reconnection, flagged ``historical`` when created before the current
connection, same message id so the coordinator can deduplicate; when the coordinators
send receipts, kept after PUBACK until a receipt names them and sent again after
RECEIPT_TIMEOUT_S without one, as the agent's delivery does); commands on
``cmd/<name>`` answered on ``cmd/<name>/reply`` with the correlation id; a desired
config applied (heartbeat interval) and reported. Delivery waits, as the agent's does,
until a coordinator has announced itself online.

Message ids are derived from (run nonce, device index, result sequence), so a test can
rebuild every id the fleet produced from the report's counts alone (``result_id``).
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from cloud_sync.protocol import SCHEMA_VERSION, TopicTree, decode, encode
from cloud_sync.simulate.wire import MqttClient, MqttError

_SIMULATED_MEM = json.dumps({"total": 4 << 30, "available": 3 << 30, "percent": 25.0, "rss": 40 << 20},
                            separators=(",", ":"))

log = logging.getLogger(__name__)
DELIVERY_WINDOW = 20          # QoS1 results in flight per device (the agent's window is 200)
RECEIPT_TIMEOUT_S = 120.0     # as edge_runtime.agent.delivery.Delivery.RECEIPT_TIMEOUT_S


def result_id(run_nonce: int, device_index: int, seq: int) -> str:
    """The message id of a device's result ``seq`` (24 hex chars, unique per run)."""
    return f"{run_nonce:08x}{device_index:06x}{seq:010x}"


@dataclass
class DeviceCounters:
    """What one device did; summed into the fleet report."""

    connects: int = 0
    connect_failures: int = 0
    wills: int = 0               # connections dropped without DISCONNECT (broker sends the will)
    heartbeats: int = 0
    heartbeats_dropped: int = 0  # QoS0 while disconnected or socket backed up, as a device drops them
    results: int = 0             # created (ids seq 1..results)
    acked: int = 0               # PUBACKed (removed from the outbox unless receipts are awaited)
    confirmed: int = 0           # named in a coordinator's receipt and removed from the outbox
    resend_rounds: int = 0       # outbox sent again: receipts overdue
    sends: int = 0               # QoS1 publishes of results, resends included
    resends: int = 0
    historical: int = 0          # publishes flagged historical
    commands: int = 0
    configs: int = 0


@dataclass
class _Pending:
    seq: int
    created: float
    body: dict[str, Any]
    sent: bool = False


@dataclass
class DeviceSpec:
    """What differs between devices: drawn by the fleet from its seed."""

    index: int
    device_id: str
    td: bytes                       # encoded envelope body source (JSON of the TD)
    site: str
    task: str
    heartbeat_s: float
    result_every_s: float
    temperature_c: float
    payload_floats: int
    extra: dict[str, Any] = field(default_factory=dict)


class VirtualDevice:
    def __init__(self, spec: DeviceSpec, host: str, port: int, topics: TopicTree, run_nonce: int,
                 rng: random.Random, wait_for_coordinator: bool = True):
        self.spec = spec
        self.host, self.port = host, port
        self.topics = topics
        self.run_nonce = run_nonce
        self.rng = rng
        self.wait_for_coordinator = wait_for_coordinator
        self.counters = DeviceCounters()
        self.heartbeat_s = spec.heartbeat_s
        self.client: MqttClient | None = None
        self.outbox: collections.OrderedDict[int, _Pending] = collections.OrderedDict()
        self.bd_seq = 0
        self.config_version = 0
        self.coordinators: set[str] = set()
        self.receipting: set[str] = set()     # online coordinators that send receipts
        self._awaiting: collections.OrderedDict[int, float] = collections.OrderedDict()  # seq -> PUBACKed at
        self.connected_at = 0.0
        self.started = time.time()
        self.last_sync: float | None = None
        self._control_seq = 0
        self._born = False
        self._inflight: set[int] = set()
        self._sendable = asyncio.Event()
        self._cpu = rng.uniform(5, 40)
        self._dev_json = json.dumps(spec.device_id)
        self._health_topic = self.topic("health")

    # ----- topics and envelopes ----------------------------------------------------------------
    def topic(self, suffix: str) -> str:
        return self.topics.device(self.spec.device_id, suffix)

    def _envelope(self, body: dict[str, Any], seq: int | None = None, msg_id: str | None = None,
                  ts: float | None = None, historical: bool = False) -> bytes:
        if seq is None:
            self._control_seq += 1
            seq = self._control_seq
        message = {"v": SCHEMA_VERSION, "id": msg_id or f"{self.run_nonce:08x}c{self.spec.index:06x}"
                   f"{self.rng.getrandbits(40):010x}", "dev": self.spec.device_id, "seq": seq,
                   "ts": time.time() if ts is None else ts, "body": body}
        if historical:
            message["historical"] = True
        return encode(message)

    def _state(self, online: bool) -> bytes:
        return self._envelope({"online": online, "bdSeq": self.bd_seq}, seq=0)

    # ----- connection life -----------------------------------------------------------------------
    async def connect(self, keepalive: int = 60) -> None:
        """Connect, subscribe and publish the birth (TD, reported config, state online)."""
        self.bd_seq += 1
        self._born = False          # no result goes out before the birth (as the agent's on_connect)
        self._inflight.clear()      # a new connection resends the whole outbox from the oldest
        self._awaiting.clear()
        self.connected_at = time.time()   # before CONNACK: anything older is backlog (historical)
        self.client = MqttClient(self.host, self.port, f"sim-{self.spec.device_id}",
                                 keepalive=keepalive, on_message=self._on_message,
                                 will=(self.topic("state"), self._state(False), 1, True))
        try:
            await self.client.connect()
            await self.client.subscribe([(self.topic("cmd/+"), 1), (self.topic("config/desired"), 1),
                                         (self.topics.coordinator_presence(), 1),
                                         (self.topic("receipt"), 0)])
        except (OSError, MqttError, asyncio.TimeoutError):
            self.counters.connect_failures += 1
            self.client.abort()
            raise
        self.counters.connects += 1
        self.client.publish_qos1(self.topic("td"), self._envelope(json.loads(self.spec.td)), retain=True)
        self.client.publish_qos1(self.topic("config/reported"), self._envelope(
            {"version": self.config_version, "config": {"heartbeat_s": self.heartbeat_s},
             "applied": True}), retain=True)
        self.client.publish_qos1(self.topic("state"), self._state(True), retain=True)
        self.heartbeat()            # as the agent: a heartbeat right after the birth (backlog)
        self._born = True
        self._sendable.set()

    async def disconnect(self) -> None:
        """Like the agent's stop: 'offline' (retained) first, then a clean DISCONNECT."""
        client = self.client
        if client is None or not client.connected:
            return
        try:
            await asyncio.wait_for(client.publish_qos1(self.topic("state"), self._state(False),
                                                       retain=True), 5.0)
        except (MqttError, asyncio.TimeoutError):
            pass
        await client.disconnect()

    def power_cut(self) -> None:
        """Drop the link without DISCONNECT: the broker publishes the will."""
        if self.client is not None and self.client.connected:
            self.counters.wills += 1
            self.client.abort()

    @property
    def online(self) -> bool:
        return self.client is not None and self.client.connected

    # ----- traffic -------------------------------------------------------------------------------
    def heartbeat(self) -> None:
        """One health message. Written as JSON text directly (what ``encode`` of the same dict
        gives, checked in tests): json.dumps of the nested body was a sixth of the simulator's
        CPU at 10,000 devices, which shares the box with the coordinator it measures."""
        self._cpu = min(100.0, max(0.0, self._cpu + self.rng.gauss(0, 0.5)))
        self._control_seq += 1
        if self._awaiting and time.monotonic() - next(iter(self._awaiting.values())) > RECEIPT_TIMEOUT_S:
            self._awaiting.clear()          # overdue: the pump sends them again
            self.counters.resend_rounds += 1
            self._sendable.set()
        now = time.time()
        last_sync = "null" if self.last_sync is None else repr(float(self.last_sync))
        payload = (f'{{"v":{SCHEMA_VERSION},"id":"{self.run_nonce:08x}c{self.spec.index:06x}'
                   f'{self.rng.getrandbits(40):010x}","dev":{self._dev_json},"seq":{self._control_seq},'
                   f'"ts":{now!r},"body":{{"interval_s":{float(self.heartbeat_s)!r},'
                   f'"uptime_s":{round(now - self.started, 1)!r},"cpu_percent":{round(self._cpu, 1)!r},'
                   f'"mem":{_SIMULATED_MEM},"temperature_c":'
                   f'{round(self.spec.temperature_c + self.rng.gauss(0, 0.2), 1)!r},'
                   f'"outbox":{{"backlog":{len(self.outbox)},"dropped":0,"last_sync":{last_sync}}},'
                   f'"simulated":true}}}}').encode()
        if self.client is not None and self.client.publish(self._health_topic, payload):
            self.counters.heartbeats += 1
        else:
            self.counters.heartbeats_dropped += 1

    def produce_result(self) -> None:
        """A task result into the outbox (sent when the link and a coordinator allow)."""
        self.counters.results += 1
        seq = self.counters.results
        values = [round(self.rng.random(), 4) for _ in range(self.spec.payload_floats)]
        body = {"task": self.spec.task, "latency_ms": round(self.rng.lognormvariate(2.0, 0.5), 2),
                "value": values}
        self.outbox[seq] = _Pending(seq, time.time(), body)
        self._sendable.set()

    def _gate_open(self) -> bool:
        return self.online and self._born and (bool(self.coordinators) or not self.wait_for_coordinator)

    async def pump(self, stop: asyncio.Event) -> None:
        """Send the outbox oldest first, DELIVERY_WINDOW at a time; forever until ``stop``."""
        while not stop.is_set():
            await self._sendable.wait()
            self._sendable.clear()
            if not self._gate_open():
                continue
            for seq, item in list(self.outbox.items()):
                if len(self._inflight) >= DELIVERY_WINDOW or not self._gate_open():
                    break
                if seq in self._inflight or seq in self._awaiting:
                    continue
                self._send(item)

    def _send(self, item: _Pending) -> None:
        historical = item.created < self.connected_at
        resend = item.sent
        payload = self._envelope(item.body, seq=item.seq, msg_id=result_id(
            self.run_nonce, self.spec.index, item.seq), ts=item.created, historical=historical)
        future = self.client.publish_qos1(self.topic(f"result/{self.spec.task}"), payload)
        item.sent = True
        self._inflight.add(item.seq)
        self.counters.sends += 1
        self.counters.resends += resend
        self.counters.historical += historical
        future.add_done_callback(lambda f, seq=item.seq: self._on_ack(f, seq))

    def _on_ack(self, future: asyncio.Future, seq: int) -> None:
        self._inflight.discard(seq)
        if future.cancelled() or future.exception() is not None:
            return   # link lost: the item stays in the outbox and goes again on reconnect
        if seq in self.outbox:
            self.counters.acked += 1
            if self.receipting and self.receipting == self.coordinators:
                self._awaiting[seq] = time.monotonic()   # kept until a receipt names it
            else:
                del self.outbox[seq]
                self.last_sync = time.time()
        self._sendable.set()

    def _on_receipt(self, ranges: Any) -> None:
        if not isinstance(ranges, list):
            return
        for pair in ranges:
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, int) for v in pair)):
                return
            first, last = pair
            seqs = (range(first, last + 1) if last - first < len(self.outbox)
                    else [s for s in self.outbox if first <= s <= last])
            for seq in seqs:
                if self.outbox.pop(seq, None) is not None:
                    self._awaiting.pop(seq, None)
                    self.counters.confirmed += 1
                    self.last_sync = time.time()

    # ----- inbound -------------------------------------------------------------------------------
    def _on_message(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        route = self.topics.route(topic)
        if route is None:
            return
        try:
            body = decode(payload)["body"]
        except Exception:
            return
        if route.kind == "coordinator_state":
            online = bool(body.get("online"))
            if not online and route.name in self.receipting:
                self._awaiting.clear()      # its receipts will not come: send those again now
            (self.coordinators.add if online else self.coordinators.discard)(route.name)
            (self.receipting.add if online and body.get("receipts") else self.receipting.discard)(route.name)
            self._sendable.set()
        elif route.kind == "receipt" and route.device_id == self.spec.device_id:
            self._on_receipt(body.get("seqs"))
        elif route.kind == "cmd" and isinstance(body.get("corr"), str):
            self.counters.commands += 1
            reply = {"corr": body["corr"], "ok": True}
            if route.name == "ping":
                reply["result"] = {"pong": True, "device": self.spec.device_id}
            elif route.name == "status":
                reply["result"] = {"backlog": len(self.outbox), "results": self.counters.results}
            else:
                reply = {"corr": body["corr"], "ok": False, "error": f"unknown command {route.name!r}"}
            self.client.publish_qos1(self.topic(f"cmd/{route.name}/reply"), self._envelope(reply))
        elif route.kind == "config_desired" and isinstance(body.get("version"), int):
            if body["version"] > self.config_version:
                self._apply_config(body)

    def _apply_config(self, body: dict[str, Any]) -> None:
        config = body.get("config") if isinstance(body.get("config"), dict) else {}
        value = config.get("heartbeat_s")
        error = None
        if value is not None:
            if isinstance(value, (int, float)) and not isinstance(value, bool) and 0.1 <= value <= 86400:
                self.heartbeat_s = float(value)
            else:
                error = f"heartbeat_s must be a number in [0.1, 86400], got {value!r}"
        self.config_version = body["version"]
        self.counters.configs += 1
        report = {"version": self.config_version, "config": {"heartbeat_s": self.heartbeat_s},
                  "applied": error is None}
        if error:
            report["error"] = error
        self.client.publish_qos1(self.topic("config/reported"), self._envelope(report), retain=True)
