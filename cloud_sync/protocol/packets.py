"""MQTT packet bytes written by hand: the simulator's client and the coordinator's bulk QoS0 path."""
from __future__ import annotations

import struct


def varint(n: int) -> bytes:
    """MQTT's remaining-length encoding."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def text(value: str | bytes) -> bytes:
    """A length-prefixed UTF-8 string."""
    data = value.encode() if isinstance(value, str) else value
    return struct.pack("!H", len(data)) + data


def packet(first_byte: int, body: bytes) -> bytes:
    return bytes((first_byte,)) + varint(len(body)) + body
