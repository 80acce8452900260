"""The coordinator: ingest, device registry, commands and requests, in one embeddable object.

    coord = Coordinator(None, Path("var")).start()      # embedded amqtt broker on loopback
    coord.devices(); coord.results(device="pi-01", task="traffic")
    coord.command("pi-01", "ping"); coord.request("pi-01", "edvit", {"x": array}, 5.0)

Replicas: give each a ``replica_id`` and the same ``share_group``; results, health and
deployment states are then split between them by the broker (``$share/<group>/...``),
while device state/TD and replies reach every replica. Point them at one ``data_dir``
(SQLite WAL allows several writer processes on one host) or at separate stores.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from cloud_sync.coordinator.events import Event, EventHub, Listener
from cloud_sync.coordinator.ingest import Inbound, IngestWriter, rejected
from cloud_sync.coordinator.liveness import DIRTY_WRITE_S
from cloud_sync.coordinator.requests import Reply, Requester
from cloud_sync.coordinator.pg_store import open_store
from cloud_sync.coordinator.receipts import DEFAULT_INTERVAL_S as RECEIPT_INTERVAL_S, ReceiptBook
from cloud_sync.coordinator.store import Store
from cloud_sync.protocol import (SCHEMA_VERSION, ProtocolError, RejectionCounter, TopicTree, encode,
                                 envelope, new_message_id, parse_message)
from cloud_sync.connection import as_url
from cloud_sync.protocol.link import Backoff, Delivery, Link, ack_deliveries

log = logging.getLogger(__name__)

STORED_KINDS = {"result", "health", "state", "td", "config_reported", "deploy"}
SHARED_SUFFIXES = ("result/+", "health", "deploy/+")      # split between replicas
BROADCAST_SUFFIXES = ("state", "td", "config/reported")   # every replica keeps the registry
REPLY_KINDS = {"cmd_reply", "task_reply"}
DEFAULT_OFFLINE_AFTER_S = 60.0
MIN_OFFLINE_AFTER_S = 2.0    # a heartbeat-based allowance is never shorter (misses x interval)
MAX_NAME_CHARS = 128      # task / job / command names from the topic (stored with each row)
# The coordinator speaks MQTT 3.1.1 unless its URL says ?protocol=5: nothing it does needs
# v5, and paho's v5 property decoding doubled the CPU per ingested message (measured
# 126 vs 70 us/msg, benchmarks/ingest_bench.py). Devices use v5 where the broker has it.
INGEST_PROTOCOL = "3.1.1"


class Coordinator:
    def __init__(self, broker_url: str | None, data_dir: Path | str, *, fleet: str = "default",
                 root: str = "edge", replica_id: str = "main", share_group: str | None = None,
                 offline_after_s: float | None = None, heartbeat_misses: float = 3.0,
                 persistent_session: bool = True, ingest_batch: int = 5000,
                 protocol: str = INGEST_PROTOCOL, store: str | None = None,
                 receipt_interval_s: float | None = RECEIPT_INTERVAL_S):
        self.data_dir = Path(data_dir)
        self.topics = TopicTree(root, fleet)
        self.replica_id = replica_id
        self.share_group = share_group
        self.offline_after_s = offline_after_s
        self.heartbeat_misses = heartbeat_misses
        self.rejections = RejectionCounter()
        self.received = 0
        self.embedded_broker = None
        self.broker_url = broker_url
        if broker_url is not None:
            as_url(broker_url)  # a bad URL fails here, with the forms it accepts
        # store: a postgresql:// URL (shared by replicas, cloud_sync.coordinator.pg_store) or
        # None for SQLite in data_dir; data_dir still holds the runtime file
        self.store = open_store(store) if store else Store(self.data_dir)
        self.events = EventHub()
        self.writer = IngestWriter(self.store, self.events, batch_max=ingest_batch,
                                   rejections=self.rejections)
        # End-to-end receipts (cloud_sync.coordinator.receipts); None: devices delete on PUBACK
        self.receipts = (ReceiptBook(self._send_receipts, receipt_interval_s)
                         if receipt_interval_s is not None else None)
        self.writer.receipts = self.receipts
        self._persistent = persistent_session
        self.protocol = protocol
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        # Replicas on shared subscriptions each hear ~1/N of a device's heartbeats: only the
        # leader may judge liveness, from the last_seen all replicas mirror to the shared store
        # (replica.py sets this to the lease's is_leader). None: a lone coordinator, always judges.
        self.liveness_leader: Callable[[], bool] | None = None
        self.link: Link | None = None
        self.requester: Requester | None = None
        self._drops_resynced = 0       # events.dropped when listeners last got a resync

    # ----- lifecycle --------------------------------------------------------------------------
    def start(self, wait_s: float = 15.0) -> "Coordinator":
        """Start (the embedded broker if no URL was given); waits up to ``wait_s`` for the broker
        (0 = do not wait: the coordinator keeps retrying in the background)."""
        if self.broker_url is None:
            from cloud_sync.broker import EmbeddedBroker
            self.embedded_broker = EmbeddedBroker().start()
            self.broker_url = self.embedded_broker.url
        presence = self.topics.coordinator_presence(self.replica_id)
        url = as_url(self.broker_url)
        if url.protocol == "auto" and self.protocol != "auto":
            url = dataclasses.replace(url, protocol=self.protocol)
        self.link = Link(url, f"coordinator-{self.topics.fleet}-{self.replica_id}",
                         clean=not self._persistent,
                         will=(presence, self._presence_payload(False), 1, True),
                         on_connect=self._on_connect, on_message=self._on_message,
                         on_disconnect=lambda link: self._ready.clear(),
                         before_disconnect=self._before_disconnect,
                         backoff=Backoff(0.2, 5.0), manual_ack=True)
        self.requester = Requester(self.link, self.topics, sender=self.replica_id)
        self.events.start()
        self.writer.start()
        self.link.start()
        self._monitor = threading.Thread(target=self._monitor_loop, name="coordinator-liveness",
                                         daemon=True)
        self._monitor.start()
        self._write_runtime_file()
        if wait_s and not self._ready.wait(wait_s):
            log.warning("coordinator not connected to %s after %.0f s; still trying (%s)",
                        self.link.url, wait_s, self.link.last_error)
        return self

    def stop(self) -> None:
        """Announce 'offline', drain ingest into the store, close; safe to call twice."""
        if self._stop.is_set():
            return
        self._stop.set()
        # Commit (and so acknowledge) what has arrived while the connection is still up; what
        # arrives after this is left unacknowledged and redelivered at the next start.
        self.writer.flush(5.0)
        if self.receipts is not None and self.link is not None:
            self.receipts.flush()
        if self.link:
            self.link.stop()
        self.writer.stop()
        self.events.stop()
        if self._monitor:
            self._monitor.join(5)
        self.store.close()
        if self.embedded_broker:
            self.embedded_broker.stop()
        (self.data_dir / f"coordinator-{self.replica_id}.json").unlink(missing_ok=True)

    def __enter__(self) -> "Coordinator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_ready(self, timeout: float) -> bool:
        """True once connected and subscribed (devices may deliver from then on)."""
        return self._ready.wait(timeout)

    # ----- queries ------------------------------------------------------------------------------
    def devices(self) -> list[dict[str, Any]]:
        return self.store.devices()

    def device(self, device_id: str) -> dict[str, Any] | None:
        return next((d for d in self.devices() if d["device_id"] == device_id), None)

    def results(self, device: str | None = None, task: str | None = None,
                since: float | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        return self.store.results(device, task, since, limit)

    def count_results(self, device: str | None = None, task: str | None = None) -> int:
        return self.store.count_results(device, task)

    def health_history(self, device: str, since: float | None = None, limit: int = 1000):
        return self.store.health_history(device, since, limit)

    def deployments(self, device: str | None = None) -> list[dict[str, Any]]:
        return self.store.deployments(device)

    def rejected(self, reason: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Dead letters (refused by validation or by the store), newest first."""
        return self.store.rejected(reason, limit)

    def rejection_counts(self) -> dict[str, int]:
        """Refused messages per reason, as kept in the store (survives restarts)."""
        return self.store.rejection_counts()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every message received so far is in the store."""
        return self.writer.flush(timeout)

    def stats(self) -> dict[str, Any]:
        return {"received": self.received, "stored": self.writer.stored,
                "duplicates": self.writer.duplicates, "batches": self.writer.batches,
                "pending": self.writer.pending, "rejected": self.rejections.snapshot(),
                "quarantined": self.writer.quarantined,
                "events_dropped": self.events.dropped,
                "backpressure_waits": self.writer.backpressure_waits,
                "heartbeats_coalesced": self.writer.heartbeats_coalesced,
                "backpressure_s": round(self.writer.backpressure_s, 3),
                "late_replies": self.requester.late_replies if self.requester else 0,
                **(self.receipts.stats() if self.receipts is not None else {})}

    def add_listener(self, fn: Listener) -> None:
        """``fn(event)`` for every td/state/health/result/reply/deploy/config event."""
        self.events.add_listener(fn)

    def remove_listener(self, fn: Listener) -> None:
        self.events.remove_listener(fn)

    # ----- talking to devices ---------------------------------------------------------------------
    def command(self, device: str, name: str, args: dict[str, Any] | None = None,
                timeout: float = 10.0) -> Reply:
        return self.requester.call(device, f"cmd/{name}", args or {}, timeout)

    def request(self, device_id: str, task_name: str, body: dict[str, Any],
                timeout_s: float = 10.0, qos: int = 1) -> Reply:
        """Send ``body`` to the task's ``handle()``; raises TimeoutError without a reply."""
        return self.requester.call(device_id, f"task/{task_name}/request", body, timeout_s, qos)

    def request_many(self, device_ids: Iterable[str], task_name: str, body: dict[str, Any],
                     deadline_s: float, qos: int = 1) -> dict[str, Reply | None]:
        return self.requester.call_many(device_ids, f"task/{task_name}/request", body,
                                        deadline_s, qos)

    def publish(self, device_id: str, suffix: str, body: dict[str, Any], *, retain: bool = False,
                qos: int = 1) -> bool:
        """Publish a cloud→device message (e.g. ``deploy/<job>/order``); False when offline."""
        payload = encode(envelope(device_id, 0, body))
        return self.link.publish(self.topics.device(device_id, suffix), payload, qos, retain) is not None

    def publish_topic(self, topic: str, body: dict[str, Any], *, retain: bool = False,
                      qos: int = 1) -> bool:
        """Publish on a fleet-level topic (``topics.fl_global(round)``); False when offline."""
        payload = encode(envelope(self.replica_id, 0, body))
        return self.link.publish(topic, payload, qos, retain) is not None

    def set_desired_config(self, device_id: str, changes: dict[str, Any]) -> int:
        """Publish retained ``config/desired`` with the next version; the version number."""
        current = self.device(device_id) or {}
        version = int(((current.get("desired") or {}).get("version")) or 0) + 1
        reported = (current.get("reported") or {}).get("version") or 0
        version = max(version, int(reported) + 1)
        body = {"version": version, "config": changes}
        if not self.publish(device_id, "config/desired", body, retain=True):
            raise ConnectionError(f"not connected to {self.link.url}; desired config not sent")
        self.writer.submit(Inbound("config_desired", device_id, None,
                                   envelope(device_id, 0, body), b"", time.time()))
        return version

    # ----- network side ---------------------------------------------------------------------------
    def _presence_payload(self, online: bool) -> bytes:
        return encode(envelope(self.replica_id, 0, {"online": online, "replica": self.replica_id,
                                                    "receipts": self.receipts is not None}))

    def _send_receipts(self, receipts: list[tuple[str, list[list[int]]]]) -> bool:
        """One QoS0 receipt per device, all in one write. The envelope is written as text (what
        ``encode`` gives for it: ids are validated device ids, seqs integers), because encode's
        generic path was a third of a receipt's cost."""
        now = repr(time.time())
        messages = [(self.topics.device(device_id, "receipt"),
                     (f'{{"v":{SCHEMA_VERSION},"id":"{new_message_id()}","dev":"{device_id}","seq":0,'
                      f'"ts":{now},"body":{{"seqs":{json.dumps(ranges, separators=(",", ":"))}}}}}').encode())
                    for device_id, ranges in receipts]
        return self.link.publish_qos0_many(messages)

    def _on_connect(self, link: Link) -> None:
        shared = (lambda f: f"$share/{self.share_group}/{f}") if self.share_group else (lambda f: f)
        filters = [(shared(self.topics.all_devices(s)), 1) for s in SHARED_SUFFIXES]
        filters += [(self.topics.all_devices(s), 1) for s in BROADCAST_SUFFIXES]
        filters += self.requester.reply_filters()
        if not link.subscribe_and_wait(filters):
            log.warning("no SUBACK from %s within the timeout", link.url)
        link.publish(self.topics.coordinator_presence(self.replica_id),
                     self._presence_payload(True), 1, True)
        self._ready.set()

    def _before_disconnect(self, link: Link) -> None:
        link.publish_and_wait(self.topics.coordinator_presence(self.replica_id),
                              self._presence_payload(False), 1, True)

    def _on_message(self, topic: str, payload: bytes, retain: bool,
                    delivery: Delivery | None = None) -> None:
        """Network thread: route, validate, hand to the writer (or the waiting request).

        What goes to the writer (stored or dead-lettered) is acked after its commit; a reply
        is acked at once (the waiting caller has it; a lost one is a timeout, not lost data)."""
        self.received += 1
        route = self.topics.route(topic)
        if route is None or (route.kind not in STORED_KINDS and route.kind not in REPLY_KINDS) \
                or (route.name is not None and not 0 < len(route.name) <= MAX_NAME_CHARS):
            error = ProtocolError("unknown_topic", "not an ingest topic (or a task/job name over "
                                                   f"{MAX_NAME_CHARS} chars)")
            self.rejections.count(error, "?", topic)
            self.writer.submit(rejected(topic, payload, error, delivery))
            return
        try:
            message = parse_message(route.kind, payload, route.device_id)
        except ProtocolError as exc:
            self.rejections.count(exc, route.kind, topic)
            self.writer.submit(rejected(topic, payload, exc, delivery))
            return
        if route.kind in REPLY_KINDS:
            ack_deliveries([delivery])
            reply = self.requester.resolve(route.device_id, message["body"], len(payload))
            if reply is not None:
                self.events.emit(Event("reply", route.device_id,
                                       {"name": route.name, "ok": reply.ok,
                                        "latency_s": reply.latency_s}, message["ts"]))
            return
        self.writer.wait_for_room()
        self.writer.submit(Inbound(route.kind, route.device_id, route.name, message, payload,
                                   time.time(), topic, delivery))

    # ----- liveness ---------------------------------------------------------------------------------
    def _offline_after(self, heartbeat_s: float | None) -> float:
        if self.offline_after_s is not None:
            base = self.offline_after_s
        elif heartbeat_s:
            base = max(self.heartbeat_misses * heartbeat_s, MIN_OFFLINE_AFTER_S)
        else:
            base = DEFAULT_OFFLINE_AFTER_S
        # a replica's view of others' traffic is the mirrored last_seen, up to DIRTY_WRITE_S old
        return base + (DIRTY_WRITE_S if self.share_group else 0.0)

    def _offline_floor(self) -> float:
        """The shortest allowance any device can have: the fixed one, or the heartbeat-based minimum."""
        if self.offline_after_s is not None:
            return self._offline_after(None)
        return self._offline_after(MIN_OFFLINE_AFTER_S / self.heartbeat_misses)

    def _monitor_loop(self) -> None:
        while not self._stop.wait(0.5):
            if self.receipts is not None:
                self.receipts.flush_if_due()
            self._resync_after_drops()
            if self.liveness_leader is not None and not self.liveness_leader():
                continue
            resumed = self._reading_resumed_at()
            if resumed is None:
                continue
            shared = None
            if self.share_group:
                try:
                    shared = dict(self.store.query("SELECT device_id, last_seen FROM devices WHERE online = 1"))
                except Exception as exc:     # the shared store is down: judge nobody rather than everybody
                    log.warning("liveness check skipped: shared store unreadable (%s)", exc)
                    continue
            now = time.time()
            for device_id, last in self.writer.book.timed_out(now, self._offline_after, shared,
                                                               floor_s=self._offline_floor(),
                                                               not_before=resumed):
                self.writer.submit(Inbound("timeout", device_id, None,
                                           {"last_arrival": last, "shared": shared is not None}, b"", now))

    def _reading_resumed_at(self) -> float | None:
        """Wall time since when this coordinator has been reading (None: it is waiting for ingest
        room now). Silence before that is this coordinator's, not the devices': a loaded 10k soak
        marked 8,000 devices offline at once after its network thread had paused."""
        writer = self.writer
        if writer.waiting_since is not None:
            return None
        return time.time() - (time.monotonic() - writer.last_wait_end)

    def _resync_after_drops(self) -> None:
        """Listeners lost events (their queue was full): once it has drained, send them every
        device's online state from the registry, so the fleet graph cannot stay wrong until a
        device's next change (a dropped 'offline' left a dead device online in the graph)."""
        dropped = self.events.dropped
        if dropped == self._drops_resynced or self.events.pending > self.events.max_queue // 10:
            return
        with self.writer.book.lock:
            online = {device_id: status.online for device_id, status in self.writer.book.status.items()}
        log.warning("%d coordinator events were dropped (listeners behind); resynchronising the "
                    "online state of %d devices from the registry", dropped - self._drops_resynced,
                    len(online))
        self._drops_resynced = dropped
        self.events.emit(Event("resync", "", {"online": online}, time.time()))

    def _write_runtime_file(self) -> None:
        """Let ``cloud-sync cmd --data DIR`` find the broker of a running coordinator."""
        info = {"broker": self.broker_url, "pid": os.getpid(), "fleet": self.topics.fleet,
                "root": self.topics.root, "replica": self.replica_id, "started": time.time()}
        path = self.data_dir / f"coordinator-{self.replica_id}.json"
        # The broker URL may hold the coordinator's password: readable by this user only.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(info))
