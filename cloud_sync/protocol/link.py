"""One MQTT connection that keeps itself alive: back-off with jitter, a fresh client per attempt.

Both the agent and the coordinator talk to the broker through a ``Link``. Why not
paho's own reconnect loop: its delay has no jitter (a fleet rebooting together would
reconnect in lock-step), and a reused client resends its in-memory queue on reconnect,
duplicating what the agent's durable outbox replays anyway. A fresh client per
connection keeps exactly one source of truth for delivery: the outbox.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import paho.mqtt.client as mqtt

from cloud_sync.connection import (BrokerUrl, as_url, connect_properties,
                                   is_unsupported_protocol, make_client, set_nodelay)

log = logging.getLogger(__name__)
REPORT_EVERY_S = 30.0          # while the broker stays unreachable, one warning this often


@dataclass
class Backoff:
    """Exponential back-off with full jitter: delay = U(0.5, 1) * min(max_s, min_s * 2**n)."""

    min_s: float = 0.5
    max_s: float = 10.0
    attempt: int = 0

    def next_delay(self) -> float:
        base = min(self.max_s, self.min_s * (2 ** min(self.attempt, 20)))
        self.attempt += 1
        return base * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.attempt = 0


@dataclass(slots=True)      # one per received message: slots build 3x faster than frozen
class Delivery:
    """One received message still to acknowledge: the connection (client) it came on and its id.

    An ack for a connection that has since ended is dropped: the broker redelivers the message
    on the next connection of the persistent session, with a new id."""

    client: Any
    mid: int
    qos: int


def ack_deliveries(deliveries: list["Delivery | None"]) -> None:
    """Acknowledge ``deliveries`` (None and QoS0 entries are skipped), one write per connection."""
    by_client: dict[int, tuple[Any, list[int]]] = {}
    for delivery in deliveries:
        if delivery is not None and delivery.qos == 1:
            by_client.setdefault(id(delivery.client), (delivery.client, []))[1].append(delivery.mid)
    for client, mids in by_client.values():
        if hasattr(client, "ack_many"):
            client.ack_many(mids)
        else:
            for mid in mids:
                client.ack(mid, 1)


class Link:
    """A supervised MQTT connection.

    ``on_connect(link)`` runs in the link's own thread right after CONNACK (subscribe there
    with ``subscribe_and_wait``); ``on_message(topic, payload, retain)`` runs on paho's
    network thread and must be quick; ``on_disconnect(link)`` after a connection ends;
    ``before_disconnect(link)`` on ``stop()`` while still connected (publish 'offline').

    ``manual_ack=True``: QoS1 deliveries are not acknowledged on receipt; ``on_message`` gets
    a fourth argument, a ``Delivery``, and the receiver passes it to ``ack_deliveries`` once
    the message is safe (committed). Until then the broker holds the message, and redelivers
    it to a persistent session after a crash.
    """

    def __init__(self, url: BrokerUrl | str, client_id: str, *, clean: bool = True,
                 will: tuple[str, bytes, int, bool] | None = None,
                 on_connect: Callable[["Link"], None] | None = None,
                 on_message: Callable[[str, bytes, bool], None] | None = None,
                 on_disconnect: Callable[["Link"], None] | None = None,
                 before_disconnect: Callable[["Link"], None] | None = None,
                 on_publish: Callable[[], None] | None = None,
                 backoff: Backoff | None = None, keepalive: int = 30,
                 connect_timeout_s: float = 10.0, max_inflight: int = 100,
                 manual_ack: bool = False):
        self.url = as_url(url)
        self.client_id = client_id
        self.clean = clean
        self.will = will
        self.on_connect = on_connect
        self.on_message = on_message
        self.on_disconnect = on_disconnect
        self.before_disconnect = before_disconnect
        self.on_publish = on_publish
        self.backoff = backoff or Backoff()
        self.keepalive = keepalive
        self.connect_timeout_s = connect_timeout_s
        self.max_inflight = max_inflight
        self.manual_ack = manual_ack
        self.client: mqtt.Client | None = None
        self.connected = threading.Event()
        self.connections = 0            # successful connects so far (1 = first)
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._ended = threading.Event()
        self._connack = threading.Event()
        self._refused: Any = None
        self._suback: dict[int, threading.Event] = {}
        self._early_subacks: set[int] = set()
        self._sub_lock = threading.Lock()
        self._retry_now = False
        self._thread: threading.Thread | None = None

    # ----- lifecycle -------------------------------------------------------------------------
    def start(self) -> "Link":
        self._thread = threading.Thread(target=self._run, name=f"link-{self.client_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._ended.set()
        self._connack.set()
        if self._thread:
            self._thread.join(timeout)

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    # ----- publishing / subscribing -------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False):
        """Publish now if connected; returns paho's MQTTMessageInfo, or None when offline."""
        client = self.client
        if client is None or not self.connected.is_set():
            return None
        info = client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return None
        return info

    def publish_qos0_many(self, messages: list[tuple[str, bytes]]) -> bool:
        """(topic, payload) pairs at QoS0, in one write where the client can (BurstClient);
        False when offline."""
        client = self.client
        if client is None or not self.connected.is_set():
            return False
        if hasattr(client, "publish_qos0_many"):
            return client.publish_qos0_many(messages)
        return all(client.publish(topic, payload, qos=0).rc == mqtt.MQTT_ERR_SUCCESS
                   for topic, payload in messages)

    def publish_and_wait(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                         timeout: float = 2.0) -> bool:
        """Publish and wait (bounded) until it has left: for last words before a clean disconnect.
        False when offline or not sent in time; never raises."""
        info = self.publish(topic, payload, qos, retain)
        if info is None:
            return False
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def subscribe_and_wait(self, filters: list[tuple[str, int]], timeout: float = 10.0) -> bool:
        """Subscribe and wait for the SUBACK, so a 'ready' announcement after it is truthful."""
        client = self.client
        if client is None or not filters:
            return False
        result, mid = client.subscribe(filters)
        if result != mqtt.MQTT_ERR_SUCCESS:
            return False
        with self._sub_lock:
            if mid in self._early_subacks:  # the SUBACK beat us here
                self._early_subacks.discard(mid)
                return True
            event = self._suback[mid] = threading.Event()
        return event.wait(timeout)

    # ----- paho callbacks (network thread) -------------------------------------------------------
    def _cb_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = reason_code
        self._connack.set()

    def _cb_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self._ended.set()
        self._connack.set()

    def _cb_message(self, client, userdata, message) -> None:
        if self.on_message is None:
            return
        delivery = Delivery(client, message.mid, message.qos) if self.manual_ack else None
        try:
            if delivery is None:
                self.on_message(message.topic, message.payload, message.retain)
            else:
                self.on_message(message.topic, message.payload, message.retain, delivery)
        except Exception:  # a handler bug must never kill the network thread
            log.exception("message handler failed on %s", message.topic)
            if delivery is not None:
                ack_deliveries([delivery])   # redelivering it would fail the same way

    def _cb_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self._sub_lock:
            event = self._suback.pop(mid, None)
            if event is None:
                self._early_subacks.add(mid)
        if event is not None:
            event.set()

    def _cb_publish(self, client, userdata, mid, reason_code, properties) -> None:
        if self.on_publish is not None:
            self.on_publish()

    # ----- the supervising loop ---------------------------------------------------------------------
    def _new_client(self) -> mqtt.Client:
        client = make_client(self.url, self.client_id, clean=self.clean, will=self.will,
                             max_inflight=self.max_inflight)
        client.on_connect = self._cb_connect
        client.on_disconnect = self._cb_disconnect
        client.on_message = self._cb_message
        client.on_subscribe = self._cb_subscribe
        client.on_publish = self._cb_publish
        if self.manual_ack:
            client.manual_ack_set(True)
        client.reconnect_delay_set(3600, 3600)  # we reconnect ourselves; keep paho from doing it
        return client

    def _attempt(self) -> bool:
        """One connection: connect, serve until it ends; True if it got connected."""
        try:
            client = self._new_client()
        except Exception as exc:  # e.g. a CA or client-certificate file that is missing
            self.last_error = f"cannot set up a client for {self.url}: {exc}"
            log.error(self.last_error)
            return False
        self._connack.clear()
        self._ended.clear()
        self._refused = None
        self._early_subacks.clear()
        try:
            client.connect(self.url.host, self.url.port, self.keepalive,
                           **connect_properties(client, self.clean))
        except (OSError, ValueError) as exc:
            self.last_error = f"cannot reach the broker {self.url}: {exc}"
            return False
        set_nodelay(client)
        client.loop_start()
        try:
            if not self._connack.wait(self.connect_timeout_s) or self._refused is not None \
                    or self._ended.is_set():
                if self._refused is not None and is_unsupported_protocol(self._refused) \
                        and client.protocol == mqtt.MQTTv5 and self.url.protocol == "auto":
                    log.info("%s does not speak MQTT 5; using 3.1.1", self.url)
                    self.url.remember_fallback()
                    self._retry_now = True
                self.last_error = (f"{self.url} refused the connection: {self._refused}" if self._refused
                                   else f"no answer (CONNACK) from the broker {self.url} within "
                                        f"{self.connect_timeout_s:g} s")
                return False
            self.client = client
            self.connected.set()
            self.connections += 1
            self.backoff.reset()
            log.info("connected to %s as %s (MQTT %s)", self.url, self.client_id,
                     "5" if client.protocol == mqtt.MQTTv5 else "3.1.1")
            if self.on_connect is not None:
                try:
                    self.on_connect(self)
                except Exception:
                    log.exception("on_connect handler failed")
            while not self._ended.wait(0.5) and not self._stop.is_set():
                pass
            if self._stop.is_set() and self.connected.is_set():
                if self.before_disconnect is not None:
                    try:
                        self.before_disconnect(self)
                    except Exception:
                        log.exception("before_disconnect handler failed")
                client.disconnect()
            return True
        finally:
            self.connected.clear()
            client.loop_stop()
            self.client = None
            if self.on_disconnect is not None:
                try:
                    self.on_disconnect(self)
                except Exception:
                    log.exception("on_disconnect handler failed")

    def _run(self) -> None:
        failing_since = last_report = None
        while not self._stop.is_set():
            was_connected = self._attempt()
            if self._stop.is_set():
                break
            if was_connected:
                log.warning("lost connection to %s; reconnecting", self.url)
                failing_since = last_report = None
            delay = 0.0 if self._retry_now else self.backoff.next_delay()
            if not was_connected and not self._retry_now and self.last_error:
                # Say so at once (URL and reason), then every REPORT_EVERY_S while retrying:
                # a silent retry loop looked like a hang.
                now = time.monotonic()
                failing_since = failing_since or now
                if last_report is None or now - last_report >= REPORT_EVERY_S:
                    last_report = now
                    log.warning("%s; retrying in %.1f s (failing for %.0f s)", self.last_error, delay,
                                now - failing_since)
            self._retry_now = False
            self._stop.wait(delay)
