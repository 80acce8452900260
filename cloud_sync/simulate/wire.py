"""A small asyncio MQTT 3.1.1 client: enough protocol for thousands of virtual devices.

Why not paho: one paho client costs a network thread (or a loop_misc juggling act) and
~100 kB per device; ten thousand of them do not fit in one process on two cores. This
client is one coroutine reading one socket per device on a shared event loop and speaks
exactly what a device of the fleet speaks: CONNECT with a last will (retained QoS1),
QoS0 and QoS1 PUBLISH (packet ids, PUBACK resolves a future), SUBSCRIBE (SUBACK awaited),
inbound QoS0/1 PUBLISH (acked), PINGREQ keep-alive, a clean DISCONNECT (no will) and an
abrupt ``abort()`` (the broker publishes the will, as on a power cut).
"""
from __future__ import annotations

import asyncio
import struct
from typing import Callable

from cloud_sync.protocol.packets import packet
from cloud_sync.protocol.packets import text as _text

CONNECT, CONNACK, PUBLISH, PUBACK = 0x10, 0x20, 0x30, 0x40
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 0x82, 0x90, 0xC0, 0xD0, 0xE0
CONNACK_CODES = {1: "unacceptable protocol version", 2: "identifier rejected",
                 3: "server unavailable", 4: "bad user name or password", 5: "not authorised"}
# QoS0 publishes are dropped (and counted by the caller) once this much is unsent on the
# socket, as a device drops live telemetry rather than buffer it without bound.
WRITE_BUFFER_LIMIT = 256 * 1024

MessageHandler = Callable[[str, bytes, int, bool], None]


class MqttError(ConnectionError):
    """The broker refused or dropped the connection."""


def connect_packet(client_id: str, keepalive: int, clean: bool,
                   will: tuple[str, bytes, int, bool] | None,
                   username: str | None = None, password: str | None = None) -> bytes:
    flags = 0x02 if clean else 0
    payload = _text(client_id)
    if will is not None:
        topic, message, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += _text(topic) + _text(message)
    if username is not None:
        flags |= 0x80
        payload += _text(username)
    if password is not None:
        flags |= 0x40
        payload += _text(password)
    return packet(CONNECT, _text("MQTT") + bytes((4, flags)) + struct.pack("!H", keepalive) + payload)


def publish_packet(topic: str, payload: bytes, qos: int, retain: bool, packet_id: int = 0,
                   dup: bool = False) -> bytes:
    head = PUBLISH | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    body = _text(topic) + (struct.pack("!H", packet_id) if qos else b"") + payload
    return packet(head, body)


class MqttClient:
    """One connection. ``await connect()``; ``publish`` (QoS0, returns False when dropped) or
    ``await publish_acked`` (QoS1, returns once PUBACKed); ``closed`` is set when the link ends."""

    def __init__(self, host: str, port: int, client_id: str, *, keepalive: int = 60,
                 will: tuple[str, bytes, int, bool] | None = None, clean: bool = True,
                 on_message: MessageHandler | None = None,
                 username: str | None = None, password: str | None = None):
        self.host, self.port, self.client_id = host, port, client_id
        self.keepalive, self.will, self.clean = keepalive, will, clean
        self.username, self.password = username, password
        self.on_message = on_message
        self.closed = asyncio.Event()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future] = {}
        self._next_id = 0
        self._tasks: list[asyncio.Task] = []
        self._connack: asyncio.Future | None = None

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self.closed.is_set()

    async def connect(self, timeout: float = 10.0) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), timeout)
        self._connack = asyncio.get_running_loop().create_future()
        self._writer.write(connect_packet(self.client_id, self.keepalive, self.clean, self.will,
                                          self.username, self.password))
        self._tasks = [asyncio.create_task(self._read_loop())]
        try:
            code = await asyncio.wait_for(self._connack, timeout)
        except (asyncio.TimeoutError, MqttError):
            self.abort()
            raise
        if code:
            self.abort()
            raise MqttError(f"CONNACK {code}: {CONNACK_CODES.get(code, 'refused')}")
        if self.keepalive:
            self._tasks.append(asyncio.create_task(self._ping_loop()))

    def _packet_id(self) -> int:
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self._pending:
                return self._next_id
        raise MqttError("65535 QoS1 messages in flight")

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> bool:
        """QoS0: written now, or dropped (False) when disconnected or the socket is backed up."""
        writer = self._writer
        if not self.connected or writer.transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
            return False
        writer.write(publish_packet(topic, payload, 0, retain))
        return True

    def publish_qos1(self, topic: str, payload: bytes, retain: bool = False,
                     dup: bool = False) -> asyncio.Future:
        """QoS1: a future resolved by the PUBACK (raises MqttError if the link ends first)."""
        if not self.connected:
            raise MqttError("not connected")
        packet_id = self._packet_id()
        future = asyncio.get_running_loop().create_future()
        self._pending[packet_id] = future
        self._writer.write(publish_packet(topic, payload, 1, retain, packet_id, dup))
        return future

    async def subscribe(self, filters: list[tuple[str, int]], timeout: float = 10.0) -> None:
        if not self.connected:
            raise MqttError("not connected")
        packet_id = self._packet_id()
        future = asyncio.get_running_loop().create_future()
        self._pending[packet_id] = future
        body = struct.pack("!H", packet_id) + b"".join(_text(f) + bytes((q,)) for f, q in filters)
        self._writer.write(packet(SUBSCRIBE, body))
        await asyncio.wait_for(future, timeout)

    async def drain(self) -> None:
        if self.connected:
            await self._writer.drain()

    async def disconnect(self) -> None:
        """Clean DISCONNECT: the broker discards the will."""
        if self.connected:
            self._writer.write(bytes((DISCONNECT, 0)))
            try:
                await asyncio.wait_for(self._writer.drain(), 2.0)
            except (ConnectionError, asyncio.TimeoutError):
                pass
        self._close()

    def abort(self) -> None:
        """Drop the TCP connection without DISCONNECT: the broker publishes the will."""
        if self._writer is not None:
            self._writer.transport.abort()
        self._close()

    def _close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        if self._writer is not None:
            self._writer.close()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        error = MqttError("connection closed")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
                future.exception()   # retrieved: nobody has to await a dead publish
        self._pending.clear()
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(error)
            self._connack.exception()

    async def _ping_loop(self) -> None:
        while self.connected:
            await asyncio.sleep(self.keepalive / 2)
            if self.connected:
                self._writer.write(bytes((PINGREQ, 0)))

    async def _read_loop(self) -> None:
        reader = self._reader
        try:
            while True:
                head = (await reader.readexactly(1))[0]
                length, shift = 0, 0
                while True:
                    digit = (await reader.readexactly(1))[0]
                    length |= (digit & 0x7F) << shift
                    shift += 7
                    if not digit & 0x80:
                        break
                    if shift > 21:
                        raise MqttError("malformed remaining length")
                body = await reader.readexactly(length) if length else b""
                self._handle(head, body)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, MqttError):
            pass
        finally:
            self._close()

    def _handle(self, head: int, body: bytes) -> None:
        kind = head & 0xF0
        if kind == PUBACK or kind == (SUBACK & 0xF0):
            future = self._pending.pop(struct.unpack_from("!H", body)[0], None)
            if future is not None and not future.done():
                future.set_result(None)
        elif kind == PUBLISH:
            qos = (head >> 1) & 0x03
            (topic_len,) = struct.unpack_from("!H", body)
            topic = body[2:2 + topic_len].decode("utf-8", "replace")
            offset = 2 + topic_len
            if qos:
                packet_id = body[offset:offset + 2]
                offset += 2
                self._writer.write(bytes((PUBACK, 2)) + packet_id)
            if self.on_message is not None:
                self.on_message(topic, body[offset:], qos, bool(head & 0x01))
        elif kind == CONNACK:
            if self._connack is not None and not self._connack.done():
                self._connack.set_result(body[1] if len(body) > 1 else 255)
        # PINGRESP needs nothing; anything else a broker should not send a client is ignored
