"""A paho client that reads in bursts and coalesces PUBACKs: 3-5x faster QoS1 ingest.

Stock paho 2.x handles one incoming packet per network-loop turn: per QoS1 message it
runs one select(), one read, and two send() calls (the PUBACK and a wake-up byte on its
internal socketpair). Measured on this 2-core box, a bare paho subscriber drained a
queued stream at ~3k msg/s while ``mosquitto_sub`` did ~12k. This subclass changes
three private methods, nothing in the protocol:

* ``_sock_recv`` serves paho's small reads (1 byte, length, payload) from one large
  recv() instead of three-four system calls per packet;
* ``loop_read`` handles every complete packet available (not one per loop turn);
* PUBACKs queued from the network thread skip the socketpair wake-up (the loop is
  awake already and writes right after reading);
* ``_packet_write`` joins consecutive queued packets into one send() (PUBACKs of a
  burst, QoS1 publishes of the outbox) — all but those paho must see written one by
  one: QoS0 publishes (on_publish fires on write) and DISCONNECT;
* complete QoS0/QoS1 PUBLISH packets of MQTT 3.1.1 are parsed straight from the read
  buffer and handed to ``on_message`` as a slim ``InboundMessage`` (topic, payload,
  qos, retain, dup, mid): paho's path builds an MQTTMessage with its MQTTMessageInfo
  and Condition, walks the per-topic callback matcher and formats a debug log line per
  message — ~40% of the coordinator's network thread (py-spy, ingest_bench). A PUBLISH
  cut by the end of a read is completed by appending the next read (it used to go to
  paho's path: at 10,000 devices that was ~1 message in 6, and paho's topic matcher
  leaves a reference cycle per message — 17k per 30 s, collected in 1-2 s GC pauses that
  stalled every thread). Anything else (MQTT 5 properties, QoS2,
  ``message_callback_add`` filters, a PUBLISH over MAX_FAST_PACKET, a topic that is not
  UTF-8) takes paho's own path;
* with manual acks (``manual_ack_set(True)``: the coordinator acknowledges a QoS1
  delivery only once it is committed to its store) the fast path queues no PUBACK, and
  ``ack_many(mids)`` sends the PUBACKs of a whole committed batch as one packet with one
  wake-up of the network loop (``ack()`` per message would wake it once per message).

If a future paho changes these internals, ``make_client(fast=False)`` (or an upgrade
of this class) keeps the stock behaviour; the spine tests exercise this path.
"""
from __future__ import annotations

import struct
import threading

import paho.mqtt.client as mqtt

from cloud_sync.protocol.packets import packet, text

PUBLISH = 0x30
PUBACK = 0x40
DISCONNECT = 0xE0
_SUCCESS = mqtt.MQTT_ERR_SUCCESS
_AGAIN = mqtt.MQTT_ERR_AGAIN
_PUBACK_HEADER = struct.Struct("!BBH")
_TOOK, _MORE, _OTHER = "took", "more", "other"   # what _take_publish found


class InboundMessage:
    """What the fast path gives ``on_message``: the MQTTMessage fields a receiver reads."""

    __slots__ = ("topic", "payload", "qos", "retain", "dup", "mid")
    properties = None   # MQTT 3.1.1 has none

    def __init__(self, topic: str, payload: bytes, qos: int, retain: bool, dup: bool, mid: int):
        self.topic, self.payload, self.qos = topic, payload, qos
        self.retain, self.dup, self.mid = retain, dup, mid


class BurstClient(mqtt.Client):
    RECV_SIZE = 256 * 1024
    SOCKET_READS_PER_TURN = 16   # then let the loop write the PUBACKs it has queued
    MAX_COALESCE = 4096
    MAX_FAST_PACKET = 4 * 1024 * 1024   # larger PUBLISHes are gathered by paho's own reader

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self._reads_this_turn = 0
        self.fast_delivered = 0     # PUBLISHes handed to on_message by the fast path

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rpos >= len(self._rbuf):
            if self._reads_this_turn >= self.SOCKET_READS_PER_TURN:
                raise BlockingIOError()  # end this turn with an empty buffer
            data = super()._sock_recv(self.RECV_SIZE)
            self._reads_this_turn += 1
            if not data:
                return data  # connection closed
            self._rbuf, self._rpos = data, 0
        chunk = self._rbuf[self._rpos:self._rpos + bufsize]
        self._rpos += len(chunk)
        return chunk

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        """Handle every packet available now; returns once the socket is drained (or after
        SOCKET_READS_PER_TURN large reads). A PUBLISH cut by the end of a read stays in the
        buffer and the next read is appended to it, so it too takes the fast path."""
        self._reads_this_turn = 0
        fast = self._fast_publish_allowed()
        while True:
            if self._sock is None:
                return mqtt.MQTT_ERR_NO_CONN
            if fast:
                taken = self._take_publish()
                if taken is _TOOK:
                    continue
                if taken is _MORE:
                    refilled = self._refill()
                    if refilled:
                        continue
                    if refilled is None:
                        return _SUCCESS   # nothing more now; a cut packet waits for its rest
                    # closed or failed: paho's own read below reports it
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == _AGAIN:
                return _SUCCESS

    def _refill(self) -> bool | None:
        """Append one socket read to what is left of the buffer. None: nothing to read now
        (or this turn's reads are spent); False: the connection closed or failed."""
        if self._reads_this_turn >= self.SOCKET_READS_PER_TURN:
            return None
        try:
            data = super()._sock_recv(self.RECV_SIZE)
        except BlockingIOError:
            return None
        except OSError:
            return False
        self._reads_this_turn += 1
        if not data:
            return False
        rest = self._rbuf[self._rpos:]
        self._rbuf, self._rpos = (rest + data if rest else data), 0
        return True

    def _fast_publish_allowed(self) -> bool:
        return (self._protocol != mqtt.MQTTv5
                and self.on_message is not None
                and not self._on_message_filtered._root._children)

    def _take_publish(self):
        """Deliver one complete QoS0/1 PUBLISH from the buffer (and queue its PUBACK): _TOOK.
        _MORE, consuming nothing, when the buffer is empty or ends inside such a PUBLISH;
        _OTHER when the next packet is anything else (paho's own path takes it)."""
        if self._in_packet["command"] != 0:
            return _OTHER   # paho is in the middle of a packet
        buf, start = self._rbuf, self._rpos
        end = len(buf)
        if end == start:
            return _MORE
        header = buf[start]
        qos = (header >> 1) & 3
        if header & 0xF0 != PUBLISH or qos == 3 or qos == 2:
            return _OTHER
        length, shift, pos = 0, 0, start + 1
        while True:   # remaining length: 1-4 bytes, 7 bits each
            if pos >= end:
                return _MORE
            if shift > 21:
                return _OTHER
            byte = buf[pos]
            pos += 1
            length |= (byte & 127) << shift
            shift += 7
            if not byte & 128:
                break
        stop = pos + length
        if length < 2 or length > self.MAX_FAST_PACKET:
            return _OTHER
        if stop > end:
            return _MORE
        topic_len = (buf[pos] << 8) | buf[pos + 1]
        body = pos + 2 + topic_len + (2 if qos else 0)
        if topic_len == 0 or body > stop:
            return _OTHER   # malformed: paho reports it its own way
        try:
            topic = buf[pos + 2:pos + 2 + topic_len].decode("utf-8")
        except UnicodeDecodeError:
            return _OTHER
        mid = (buf[body - 2] << 8) | buf[body - 1] if qos else 0
        self._rpos = stop
        message = InboundMessage(topic, buf[body:stop], qos, bool(header & 1), bool(header & 8), mid)
        with self._in_callback_mutex:
            try:
                self.on_message(self, self._userdata, message)
            except Exception as err:
                self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                if not self.suppress_exceptions:
                    raise
        if qos and not self._manual_ack:
            self._packet_queue(PUBACK, _PUBACK_HEADER.pack(PUBACK, 2, mid), mid, 0)
        with self._msgtime_mutex:
            self._last_bytes_received = mqtt.time_func()
        self.fast_delivered += 1
        return _TOOK

    def ack_many(self, mids: list[int]) -> None:
        """PUBACK every QoS1 message id in ``mids`` (manual-ack mode), in order, as one write."""
        if not mids or not self._manual_ack:
            return
        data = b"".join(_PUBACK_HEADER.pack(PUBACK, 2, mid) for mid in mids)
        # Marked as a plain PUBACK (mid 0): paho runs no per-packet logic for it after writing.
        super()._packet_queue(PUBACK, data, 0, 0)

    def publish_qos0_many(self, messages: list[tuple[str, bytes]]) -> bool:
        """Publish (topic, payload) pairs at QoS0 as one write, without a MQTTMessageInfo each:
        paho's publish() cost ~20 us per message, which for the coordinator's receipts (one per
        device every few seconds) was a few percent of a core at 10,000 devices. False when
        not connected (nothing is queued then)."""
        if not messages:
            return True
        if not self.is_connected():
            return False
        no_properties = b"\x00" if self._protocol == mqtt.MQTTv5 else b""
        data = b"".join(packet(PUBLISH, text(topic) + no_properties + payload) for topic, payload in messages)
        # Marked as a plain PUBACK (mid 0): paho runs no per-packet logic for it after writing.
        return super()._packet_queue(PUBACK, data, 0, 0) == _SUCCESS

    def _sock_close(self) -> None:
        self._rbuf, self._rpos = b"", 0
        super()._sock_close()

    def _packet_queue(self, command, packet, mid, qos, info=None):
        if (command & 0xF0) == PUBACK and threading.current_thread() is self._thread:
            self._out_packet.append({"command": command, "mid": mid, "qos": qos, "pos": 0,
                                     "to_process": len(packet), "packet": packet, "info": info})
            return _SUCCESS
        return super()._packet_queue(command, packet, mid, qos, info)

    @staticmethod
    def _joinable(packet: dict) -> bool:
        kind = packet["command"] & 0xF0
        return packet["pos"] == 0 and kind != DISCONNECT and not (kind == PUBLISH and packet["qos"] == 0)

    def _packet_write(self):
        out = self._out_packet
        if len(out) > 1 and self._joinable(out[0]) and self._joinable(out[1]):
            chunks = []
            while out and len(chunks) < self.MAX_COALESCE and self._joinable(out[0]):
                chunks.append(out.popleft()["packet"])
            data = b"".join(chunks)
            # Marked as a PUBACK: paho runs no per-packet logic for it after writing.
            out.appendleft({"command": PUBACK, "mid": 0, "qos": 0, "pos": 0,
                            "to_process": len(data), "packet": data, "info": None})
        return super()._packet_write()
