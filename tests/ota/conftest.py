"""Fixtures for the deployment & security tests: authenticated MQTT clients on a real Mosquitto."""
from __future__ import annotations

import queue
import ssl
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge_runtime.waiting import wait_until


class Listener:
    """A paho client that records every message it receives, for asserting what arrived."""

    def __init__(self, port: int, username: str | None = None, password: str | None = None,
                 tls: dict | None = None):
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.connack: "queue.Queue[int]" = queue.Queue()
        self.subacks: "queue.Queue[list]" = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(ca_certs=tls["ca"], certfile=tls.get("cert"), keyfile=tls.get("key"),
                                cert_reqs=ssl.CERT_REQUIRED)
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.put(rc.value)
        self.client.on_message = self._on_message
        # A broker that drops the link before CONNACK (TLS alert, garbage on a TLS port) = refused.
        self.client.on_disconnect = lambda c, u, f, rc, p: self.connack.put(-2)
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.subacks.put([x.value for x in codes])
        self.port = port

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload))

    def connect(self, timeout: float = 10.0) -> int:
        """Connect and return the CONNACK reason code (0 = accepted); raises if no answer."""
        try:
            self.client.connect("127.0.0.1", self.port)
        except (ssl.SSLError, ConnectionError, OSError):
            return -1    # refused during the TLS handshake
        self.client.loop_start()
        try:
            return self.connack.get(timeout=timeout)
        except queue.Empty:
            return -1

    def subscribe(self, topic: str, qos: int = 1) -> list:
        self.client.subscribe(topic, qos)
        return self.subacks.get(timeout=10)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(timeout=10)

    def topics(self) -> list[str]:
        with self.lock:
            return [t for t, _ in self.messages]

    def wait_for(self, topic: str, timeout: float = 10.0) -> bytes:
        def found():
            with self.lock:
                return next((p for t, p in self.messages if t == topic), None)
        return wait_until(lambda: found() is not None, timeout, what=f"a message on {topic}") and found()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def mqtt_clients():
    """Factory of :class:`Listener` clients; all disconnected at the end of the test."""
    made: list[Listener] = []

    def make(port: int, username: str | None = None, password: str | None = None, tls: dict | None = None):
        client = Listener(port, username, password, tls)
        made.append(client)
        return client

    yield make
    for client in made:
        try:
            client.close()
        except Exception:
            pass
