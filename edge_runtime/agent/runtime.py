"""The device agent: owns the broker link, the durable outbox, tasks, commands and components.

Threads: the link (connect/back-off) plus paho's network thread, the outbox delivery
pump, one thread per task, the heartbeat, and a small worker pool that answers
commands, task requests, desired config and component messages (so a slow handler
never stalls the network thread).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from paho.mqtt.client import topic_matches_sub

from cloud_sync.protocol import (ProtocolError, RejectionCounter, TopicTree, encode, envelope,
                                 parse_message)
from cloud_sync.protocol.link import Backoff, Link
from edge_runtime.agent.commands import BUILTIN_COMMANDS
from edge_runtime.agent.components import InboundMessage, load_components
from edge_runtime.agent.config import AgentConfig
from edge_runtime.agent.delivery import Delivery
from edge_runtime.agent.health import health_body, thing_description, versions
from edge_runtime.agent.outbox import Outbox
from edge_runtime.agent.runner import TaskRunner
from edge_runtime.agent.task import TaskContext

log = logging.getLogger(__name__)


def load_device_profile(name: str | None):
    """The device profile for ``name`` ('auto' = detect); None when unavailable."""
    if not name:
        log.warning("no device profile (--profile): this device's description lacks its class, RAM and "
                    "storage, so the fleet graph refuses it (SHACL) and SPARQL answers leave the device "
                    "out; pass --profile auto to detect the board, or --profile ID")
        return None
    try:
        import device_profiles
        return device_profiles.detect() if name == "auto" else device_profiles.load_profile(name)
    except Exception as exc:
        log.warning("device profile %r unavailable (%s); running without one", name, exc)
        return None


class Agent:
    """``Agent(config).start()`` … ``.stop()``; see docs/protocol.md for the topics it uses."""

    def __init__(self, config: AgentConfig | dict[str, Any]):
        self.config = config if isinstance(config, AgentConfig) else AgentConfig.from_dict(config)
        self.device_id = self.config.device_id
        self.topics = TopicTree(self.config.root, self.config.fleet)
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        self.profile = load_device_profile(self.config.profile)
        self.rejections = RejectionCounter()
        self.commands = dict(BUILTIN_COMMANDS)
        self.runners: dict[str, TaskRunner] = {}
        self.started = time.time()
        self.coordinator_online: dict[str, bool] = {}
        self.coordinator_receipts: dict[str, bool] = {}   # replica -> it confirms stored results
        self._seq_lock = threading.Lock()
        self._subscriptions: list[tuple[str, Callable[[InboundMessage], None]]] = []
        self._stop = threading.Event()
        self._heartbeat_wake = threading.Event()
        self._version_info = versions()
        self._load_persisted_config()
        oc = self.config.outbox
        self.outbox = Outbox(self.config.state_dir / "outbox.sqlite", oc.max_messages,
                             oc.max_bytes, oc.drop_policy, oc.synchronous)
        # Two sequences: ``_seq`` numbers durable (outbox) messages, persisted with them, so
        # results of a device are numbered 1, 2, 3... across restarts with no gap or repeat;
        # ``_control_seq`` numbers the rest (state, health, replies) per boot.
        self._seq = int(self.outbox.get_meta("seq", 0))
        self._control_seq = 0
        self.bd_seq = int(self.outbox.get_meta("bdSeq", 0)) + 1
        self.outbox.set_meta("bdSeq", self.bd_seq)
        will = (self.topics.device(self.device_id, "state"), self._state_payload(False), 1, True)
        self.link = Link(self.config.broker, f"agent-{self.device_id}", clean=True, will=will,
                         on_connect=self._on_connect, on_message=self._on_message,
                         on_disconnect=lambda link: self._clear_coordinators(),
                         before_disconnect=self._before_disconnect,
                         backoff=Backoff(self.config.reconnect_min_s, self.config.reconnect_max_s),
                         keepalive=self.config.keepalive_s)
        self.delivery = Delivery(self.outbox, self.link, gate=self._delivery_allowed,
                                 receipt_timeout_s=oc.receipt_timeout_s)
        self.link.on_publish = self.delivery.on_ack
        self._pool = ThreadPoolExecutor(self.config.workers, thread_name_prefix=f"agent-{self.device_id}")
        self.components: list[Any] = []
        self._heartbeat_thread: threading.Thread | None = None

    # ----- public API ----------------------------------------------------------------------------
    @property
    def tasks(self) -> dict[str, Any]:
        return {name: runner.task for name, runner in self.runners.items()}

    def start(self) -> "Agent":
        self._start_tasks()
        self.components = load_components(self, self.config.components)
        for component in self.components:
            if hasattr(component, "start"):
                component.start()
        self.delivery.start()
        self.link.start()
        self._heartbeat_thread = threading.Thread(target=self._heartbeat_loop,
                                                  name=f"heartbeat-{self.device_id}", daemon=True)
        self._heartbeat_thread.start()
        return self

    def stop(self) -> None:
        """Publish 'offline', stop tasks and components, keep the outbox for next time."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._heartbeat_wake.set()
        for component in reversed(self.components):
            if hasattr(component, "stop"):
                try:
                    component.stop()
                except Exception:
                    log.exception("component %s failed to stop", type(component).__name__)
        self._stop_tasks()
        self.delivery.stop()
        self.link.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.outbox.set_meta("seq", self._seq)
        self.outbox.close()

    def wait_connected(self, timeout: float) -> bool:
        return self.link.wait_connected(timeout)

    def submit(self, task_name: str, records: list[dict[str, Any]]) -> int:
        """Store records as results of ``task_name`` in the outbox (delivered in order)."""
        topic = self.topics.device(self.device_id, f"result/{task_name}")
        with self._seq_lock:
            first = self._seq + 1
            self._seq += len(records)
            last = self._seq
        messages = [(topic, encode(envelope(self.device_id, first + i, record)), 1, False, first + i)
                    for i, record in enumerate(records)]
        stored = sum(row is not None for row in self.outbox.put_many(messages, meta={"seq": last}))
        self.delivery.notify()
        return stored

    def publish(self, suffix: str, body: dict[str, Any], *, durable: bool = False,
                retain: bool = False, qos: int = 1) -> None:
        topic = self.topics.device(self.device_id, suffix)
        if durable:
            with self._seq_lock:
                self._seq += 1
                payload = encode(envelope(self.device_id, self._seq, body))
                self.outbox.put_many([(topic, payload, qos, retain)], meta={"seq": self._seq})
            self.delivery.notify()
        else:
            payload = encode(envelope(self.device_id, self._next_control_seq(), body))
            self.link.publish(topic, payload, qos, retain)

    def subscribe_suffix(self, suffix_filter: str, callback: Callable[[InboundMessage], None]) -> None:
        self._subscriptions.append((suffix_filter, callback))
        if self.link.connected.is_set():
            self.link.subscribe_and_wait([(self.topics.device(self.device_id, suffix_filter), 1)])

    def health(self) -> dict[str, Any]:
        return health_body(
            interval_s=self.config.heartbeat_s, started=self.started, outbox=self.outbox.stats(),
            last_sync=self.delivery.last_sync,
            tasks={name: runner.status() for name, runner in self.runners.items()},
            version_info=self._version_info,
            extra={"connections": self.link.connections, "rejected": self.rejections.snapshot(),
                   "published": self.delivery.published, "replayed": self.delivery.replayed,
                   "confirmed": self.delivery.confirmed, "resend_rounds": self.delivery.resend_rounds,
                   "coordinator_online": any(self.coordinator_online.values())})

    @property
    def config_version(self) -> int:
        return self._config_version

    def apply_config(self, changes: dict[str, Any], version: int) -> dict[str, Any]:
        """Apply settable config ``changes``; persist; report on config/reported; the report."""
        error = None
        try:
            new = self.config.with_changes(changes)
        except ValueError as exc:
            error = str(exc)
        else:
            tasks_changed = [t.__dict__ for t in new.tasks] != [t.__dict__ for t in self.config.tasks]
            if tasks_changed:
                self._stop_tasks()
            self.config = new
            self.outbox.max_messages = new.outbox.max_messages
            self.outbox.max_bytes = new.outbox.max_bytes
            self.outbox.drop_policy = new.outbox.drop_policy
            self.delivery.receipt_timeout_s = new.outbox.receipt_timeout_s
            if tasks_changed:
                self._start_tasks()
            self._config_version = version
            (self.config.state_dir / "config.json").write_text(
                json.dumps({"version": version, "config": self.config.settable()}))
            self._heartbeat_wake.set()
            self.delivery.notify()
        report = {"version": version, "config": self.config.settable(), "applied": error is None}
        if error:
            report["error"] = error
        self.publish("config/reported", report, retain=True)
        return report

    # ----- internals -------------------------------------------------------------------------------
    def _next_control_seq(self) -> int:
        with self._seq_lock:
            self._control_seq += 1
            return self._control_seq

    def _load_persisted_config(self) -> None:
        self._config_version = 0
        path = self.config.state_dir / "config.json"
        if path.exists():
            try:
                saved = json.loads(path.read_text())
                self.config = self.config.with_changes(saved["config"])
                self._config_version = int(saved["version"])
            except Exception as exc:
                log.warning("ignoring unreadable %s: %s", path, exc)

    def _start_tasks(self) -> None:
        for spec in self.config.tasks:
            context = TaskContext(self.device_id, self.profile,
                                  self.config.state_dir / "tasks" / spec.name)
            context.state_dir.mkdir(parents=True, exist_ok=True)
            runner = TaskRunner(spec, context, self.submit)
            self.runners[spec.name] = runner
            runner.start()

    def _stop_tasks(self) -> None:
        runners, self.runners = self.runners, {}
        for runner in runners.values():
            runner.stop()

    def _state_payload(self, online: bool) -> bytes:
        return encode(envelope(self.device_id, 0, {"online": online, "bdSeq": self.bd_seq}))

    def _delivery_allowed(self) -> bool:
        return not self.config.wait_for_coordinator or any(self.coordinator_online.values())

    def _clear_coordinators(self) -> None:
        self.coordinator_online.clear()
        self.coordinator_receipts.clear()
        self.delivery.receipts = False

    def _on_connect(self, link: Link) -> None:
        device = lambda suffix: self.topics.device(self.device_id, suffix)  # noqa: E731
        filters = [(device("cmd/+"), 1), (device("task/+/request"), 1),
                   (device("config/desired"), 1), (self.topics.coordinator_presence(), 1),
                   (device("receipt"), 0)]
        filters += [(device(suffix), 1) for suffix, _ in self._subscriptions]
        link.subscribe_and_wait(filters)
        self.publish("td", thing_description(self.device_id, self.profile, list(self.runners),
                                       self.topics.device(self.device_id, "")[:-1]),
                     retain=True)
        self.publish("config/reported", {"version": self._config_version,
                                         "config": self.config.settable(), "applied": True},
                     retain=True)
        link.publish(device("state"), self._state_payload(True), 1, True)
        self._heartbeat_wake.set()
        self.delivery.notify()

    def _before_disconnect(self, link: Link) -> None:
        link.publish_and_wait(self.topics.device(self.device_id, "state"), self._state_payload(False), 1, True)

    def _on_message(self, topic: str, payload: bytes, retain: bool) -> None:
        """Network thread: classify and hand over to a worker; never block here."""
        route = self.topics.route(topic)
        if route is not None and route.kind == "coordinator_state":
            self._on_coordinator_state(route.name, payload)
            return
        if route is not None and route.kind == "receipt" and route.device_id == self.device_id:
            message = self._parse("receipt", topic, payload)
            if message is not None:
                self.delivery.on_receipt(message["body"]["seqs"])
            return
        if route is None or route.device_id != self.device_id:
            suffix = topic.split(f"/{self.device_id}/", 1)[-1]
            if any(topic_matches_sub(f, suffix) for f, _ in self._subscriptions):
                self._pool.submit(self._dispatch_component, "other", topic, suffix, payload, retain)
            return
        if route.kind in ("cmd", "task_request", "config_desired"):
            self._pool.submit(self._serve, route, topic, payload)
        else:
            suffix = topic.split(f"/{self.device_id}/", 1)[-1]
            self._pool.submit(self._dispatch_component, route.kind, topic, suffix, payload, retain)

    def _on_coordinator_state(self, replica: str, payload: bytes) -> None:
        try:
            message = parse_message("coordinator_state", payload, None)
        except ProtocolError as exc:
            self.rejections.count(exc, "coordinator_state", replica)
            return
        body = message["body"]
        if not body["online"] and self.coordinator_receipts.get(replica):
            self.delivery.resend_unconfirmed()   # its receipts will not come
        self.coordinator_online[replica] = body["online"]
        self.coordinator_receipts[replica] = bool(body.get("receipts"))
        # Hold results for receipts only when every online coordinator sends them (a replica
        # without would never confirm its share, and those results would be resent forever).
        online = [name for name, on in self.coordinator_online.items() if on]
        self.delivery.receipts = bool(online) and all(self.coordinator_receipts.get(n) for n in online)
        self.delivery.notify()

    def _parse(self, kind: str, topic: str, payload: bytes) -> dict | None:
        try:
            return parse_message(kind, payload, None)
        except ProtocolError as exc:
            self.rejections.count(exc, kind, topic)
            return None

    def _serve(self, route, topic: str, payload: bytes) -> None:
        message = self._parse(route.kind, topic, payload)
        if message is None:
            return
        body = message["body"]
        if route.kind == "config_desired":
            if body["version"] > self._config_version:  # retained: skip what is applied already
                self.apply_config(body["config"], body["version"])
            return
        reply: dict[str, Any] = {"corr": body["corr"], "ok": True}
        try:
            if route.kind == "cmd":
                command = self.commands.get(route.name)
                if command is None:
                    raise ValueError(f"unknown command {route.name!r}; known: {sorted(self.commands)}")
                reply["result"] = command(self, body.get("args") or {})
            else:
                runner = self.runners.get(route.name)
                if runner is None:
                    raise ValueError(f"no task {route.name!r}; running tasks: {sorted(self.runners)}")
                reply["result"] = runner.handle(body.get("args") or {})
        except Exception as exc:  # the caller gets the error; the agent keeps running
            if not isinstance(exc, (ValueError, NotImplementedError)):
                log.exception("%s %s failed", route.kind, route.name)
            reply = {"corr": body["corr"], "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        prefix = "cmd" if route.kind == "cmd" else "task"
        self.publish(f"{prefix}/{route.name}/reply", reply)

    def _dispatch_component(self, kind: str, topic: str, suffix: str, payload: bytes,
                            retain: bool) -> None:
        message = self._parse(kind, topic, payload)
        if message is None:
            return
        inbound = InboundMessage(suffix, topic, message["body"], message, retain)
        for suffix_filter, callback in list(self._subscriptions):
            if topic_matches_sub(suffix_filter, suffix):
                try:
                    callback(inbound)
                except Exception:
                    log.exception("component callback for %s failed", suffix)

    def _heartbeat_loop(self) -> None:
        topic = self.topics.device(self.device_id, "health")
        while not self._stop.is_set():
            if self.link.connected.is_set():
                payload = encode(envelope(self.device_id, self._next_control_seq(), self.health()))
                self.link.publish(topic, payload, qos=0)
            self._heartbeat_wake.wait(self.config.heartbeat_s)
            self._heartbeat_wake.clear()
