"""Broker URLs and the paho client factory shared by the agent, the coordinator and the CLI.

URL forms (one string configures everything a deployment varies)::

    mqtt://host[:1883]
    mqtts://user:password@host[:8883]?ca=/etc/ca.pem&cert=dev.pem&key=dev.key
    mqtt://127.0.0.1:1883?protocol=3.1.1        (skip the MQTT 5 attempt)

``protocol`` is ``auto`` by default: try MQTT 5 first and fall back to 3.1.1 when the
broker answers "unsupported protocol version" (amqtt); the answer is remembered per
broker so the fallback costs one extra CONNECT per process.
"""
from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as mqtt

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
PROTOCOLS = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}
_detected: dict[tuple[str, int], str] = {}
_detected_lock = threading.Lock()


@dataclass(frozen=True)
class BrokerUrl:
    """A parsed broker URL (see the module docstring for the accepted forms)."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False
    protocol: str = "auto"

    @classmethod
    def parse(cls, url: str) -> "BrokerUrl":
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError(f"broker URL {url!r}: scheme must be mqtt:// or mqtts:// "
                             f"(e.g. mqtt://127.0.0.1:1883)")
        if not parts.hostname:
            raise ValueError(f"broker URL {url!r} has no host (e.g. mqtt://127.0.0.1:1883)")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:
            raise ValueError(f"broker URL {url!r}: the port is not a number") from None
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"ca", "cert", "key", "insecure", "protocol"}
        if unknown:
            raise ValueError(f"broker URL {url!r}: unknown option(s) {sorted(unknown)}; "
                             "known: ca, cert, key, insecure, protocol")
        protocol = query.get("protocol", "auto")
        if protocol not in ("auto", *PROTOCOLS):
            raise ValueError(f"broker URL {url!r}: protocol must be auto, 5 or 3.1.1")
        if bool(query.get("cert")) != bool(query.get("key")):
            raise ValueError(f"broker URL {url!r}: give both cert= and key= for a client certificate")
        return cls(scheme=parts.scheme, host=parts.hostname, port=port,
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None,
                   ca=query.get("ca"), cert=query.get("cert"), key=query.get("key"),
                   insecure=query.get("insecure", "0") in ("1", "true", "yes"),
                   protocol=protocol)

    @property
    def tls(self) -> bool:
        return self.scheme == "mqtts"

    def __str__(self) -> str:  # never print the password
        user = f"{self.username}:***@" if self.username else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"

    def protocol_version(self) -> str:
        """The protocol to try next: the URL's choice, or what this broker answered before."""
        if self.protocol != "auto":
            return self.protocol
        with _detected_lock:
            return _detected.get((self.host, self.port), "5")

    def remember_fallback(self) -> None:
        """Called when the broker refused MQTT 5: use 3.1.1 with it from now on."""
        with _detected_lock:
            _detected[(self.host, self.port)] = "3.1.1"


def as_url(url: "BrokerUrl | str") -> BrokerUrl:
    return url if isinstance(url, BrokerUrl) else BrokerUrl.parse(url)


def is_unsupported_protocol(reason_code: Any) -> bool:
    """True for CONNACK codes that mean 'speak an older MQTT to me'."""
    text = str(reason_code).lower()
    return "unsupported protocol" in text or "protocol version" in text


def make_client(url: BrokerUrl | str, client_id: str, *, protocol: str | None = None,
                clean: bool = True, userdata: Any = None,
                will: tuple[str, bytes, int, bool] | None = None,
                max_inflight: int = 100, fast: bool = True) -> mqtt.Client:
    """A configured (not yet connected) paho 2.x client for ``url``.

    ``clean=False`` asks for a persistent session (MQTT 3.1.1 clean_session=False; MQTT 5
    clean_start=False with a session expiry set in ``connect_properties``).
    ``will`` is ``(topic, payload, qos, retain)``. ``fast`` uses the burst-reading client
    (``cloud_sync.protocol.fastclient``), ~4x the stock paho receive rate.
    """
    from cloud_sync.protocol.fastclient import BurstClient

    url = as_url(url)
    version = PROTOCOLS[protocol or url.protocol_version()]
    kwargs: dict[str, Any] = {}
    if version != mqtt.MQTTv5:
        kwargs["clean_session"] = clean
    client = (BurstClient if fast else mqtt.Client)(
                         mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=version, userdata=userdata, **kwargs)
    client.max_inflight_messages_set(max_inflight)
    client.max_queued_messages_set(0)
    if url.username:
        client.username_pw_set(url.username, url.password)
    if url.tls:
        context = ssl.create_default_context(cafile=url.ca)
        if url.cert:
            context.load_cert_chain(url.cert, url.key)
        if url.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        client.tls_set_context(context)
    if will:
        topic, payload, qos, retain = will
        client.will_set(topic, payload, qos=qos, retain=retain)
    return client


def connect_properties(client: mqtt.Client, clean: bool, session_expiry_s: int = 3600):
    """Extra CONNECT arguments for ``client.connect``: MQTT 5 session expiry when persistent."""
    if client.protocol != mqtt.MQTTv5:
        return {}
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)
    if not clean:
        props.SessionExpiryInterval = session_expiry_s
    return {"clean_start": clean, "properties": props}


def set_nodelay(client: mqtt.Client) -> None:
    """Disable Nagle on the client's socket: paho leaves it on, which adds ~40 ms (delayed
    ACK) to every request/response round trip. The broker needs it too (Mosquitto:
    ``set_tcp_nodelay true``)."""
    sock = client.socket()
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
