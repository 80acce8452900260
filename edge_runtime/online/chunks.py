"""FL bodies cut into MQTT-sized pieces: no message of a round exceeds ``max_message`` bytes.

Why: MCU-class brokers and clients have small buffers (a typical MQTT client library on a
microcontroller allocates a few kB to 256 KB per packet), while θ of a 100 k-parameter
float32 model is 400 KB. The coordinator therefore *stages* an oversized θ in parts
(``{"op": "stage", ...}`` requests, one MQTT message each) before the round request that
names it (``theta = {"staged": n}``), and a device whose reply would be too large answers
with ``update_parts = n`` and hands the parts out on ``{"op": "fetch", ...}``.
Both ends use this module, so it depends on cbor2 and nothing else.
"""
from __future__ import annotations

import cbor2

MAX_MQTT_MESSAGE = 256 * 1024
HEADROOM = 2048          # envelope (ids, timestamps, correlation) + the request's small fields
MAX_STAGED_BYTES = 8 << 20  # what a device agrees to buffer for one round


def part_size(max_message: int) -> int:
    if max_message <= HEADROOM + 256:
        raise ValueError(f"max_message={max_message} leaves no room for data beside the {HEADROOM}-byte headroom")
    return max_message - HEADROOM


def split(data: bytes, max_message: int) -> list[bytes]:
    """``data`` in consecutive parts that each fit one message of ``max_message`` bytes."""
    size = part_size(max_message)
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


def needs_chunks(value, max_message: int | None) -> bool:
    return bool(max_message) and len(cbor2.dumps(value)) > part_size(max_message)


class Staging:
    """Parts of one round's value arriving in any order; complete when every index is there."""

    def __init__(self):
        self.round = None
        self.parts: dict[int, bytes] = {}
        self.count = 0

    def put(self, round_idx, index: int, count: int, data: bytes) -> int:
        if not isinstance(data, bytes) or not 0 <= index < count <= 100_000:
            raise ValueError(f"bad staged part {index}/{count} ({type(data).__name__})")
        if round_idx != self.round or count != self.count:  # a new round replaces what was staged
            self.round, self.count, self.parts = round_idx, count, {}
        if sum(map(len, self.parts.values())) + len(data) > MAX_STAGED_BYTES:
            raise ValueError(f"staged value exceeds {MAX_STAGED_BYTES} bytes")
        self.parts[index] = data
        return len(self.parts)

    def take(self, round_idx, count: int):
        """The decoded value staged for ``round_idx``; clear error when parts are missing."""
        missing = [i for i in range(count) if i not in self.parts]
        if round_idx != self.round or count != self.count or missing:
            raise ValueError(f"staged value for round {round_idx} incomplete: have {sorted(self.parts)} "
                             f"of {count} (round {self.round}); missing {missing[:5]}")
        value = cbor2.loads(b"".join(self.parts[i] for i in range(count)))
        self.parts = {}
        return value
