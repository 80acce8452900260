"""Envelope and wire encoding: JSON for control, CBOR (RFC 8746 typed arrays) for tensors.

Every message is an *envelope* ``{"v", "id", "dev", "seq", "ts", "body"}`` (plus
``"historical": true`` on replayed backlog). ``encode`` writes JSON when the body is
plain JSON and switches to CBOR as soon as it meets a numpy array or bytes, so control
traffic stays readable with ``mosquitto_sub`` while tensors travel compactly. Arrays
use RFC 8746: tag 40 ``[shape, typed-array tag(bytes)]``, which round-trips dtype and
shape exactly (float32, int8, ...). ``decode`` tells the two apart by the first byte:
a JSON envelope starts with ``{``, a CBOR map with major type 5 (0xa0-0xbf).

numpy is imported only when a message carries an array: an object can only be a numpy
array if numpy is already loaded, so an idle agent (JSON control traffic) never pays its
20 MB.
"""
from __future__ import annotations

import functools
import json
import os
import sys
import time
from typing import Any

import cbor2

try:    # the coordinator's extra ([cloud]); a device decodes its few messages with json
    import orjson as _orjson
except ImportError:     # pragma: no cover - exercised where orjson is absent
    _orjson = None

SCHEMA_VERSION = 1
# A run of 19+ ASCII digits: every digit byte becomes "0", every other byte "x", then one
# substring search (0.27 us for a result envelope; re.search(rb"[0-9]{19}") took 1.35 us, a
# sixth of the coordinator's network thread in ingest_bench).
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
_NINETEEN_DIGITS = b"0" * 19

# RFC 8746 little-endian typed-array tags.
_TAG_OF_DTYPE = {"uint8": 64, "<u2": 69, "<u4": 70, "<u8": 71, "int8": 72, "<i2": 77, "<i4": 78,
                 "<i8": 79, "<f2": 84, "<f4": 85, "<f8": 86}
_TYPED_ARRAY_TAGS = frozenset(_TAG_OF_DTYPE.values())
_MULTI_DIM_TAG = 40


def _loaded_numpy():
    """numpy if something already imported it, else None (then no object can be an array)."""
    return sys.modules.get("numpy")


@functools.cache
def _dtype_tables():
    import numpy as np
    to_tag = {np.dtype(name): tag for name, tag in _TAG_OF_DTYPE.items()}
    return to_tag, {tag: dtype for dtype, tag in to_tag.items()}


class _NeedsCbor(Exception):
    """Raised inside json.dumps when the body holds something JSON cannot carry."""


def new_message_id() -> str:
    """96 random bits as hex: unique enough to be the dedup key of at-least-once delivery."""
    return os.urandom(12).hex()


def envelope(device_id: str, seq: int, body: dict[str, Any], *, msg_id: str | None = None,
             ts: float | None = None) -> dict[str, Any]:
    return {"v": SCHEMA_VERSION, "id": msg_id or new_message_id(), "dev": device_id,
            "seq": int(seq), "ts": time.time() if ts is None else ts, "body": body}


def _json_default(obj: Any) -> Any:
    np = _loaded_numpy()
    if np is not None and isinstance(obj, np.generic):
        return obj.item()
    raise _NeedsCbor()


def _cbor_default(encoder: cbor2.CBOREncoder, obj: Any) -> None:
    np = _loaded_numpy()
    if np is not None and isinstance(obj, np.ndarray):
        arr = obj
        if arr.dtype == np.bool_:
            arr = arr.astype(np.uint8)
        arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")
                                   if arr.dtype.byteorder == ">" else arr.dtype)
        tag = _dtype_tables()[0].get(arr.dtype)
        if tag is None:
            raise TypeError(f"cannot encode numpy dtype {arr.dtype} (supported: "
                            f"{', '.join(_TAG_OF_DTYPE)})")
        encoder.encode(cbor2.CBORTag(_MULTI_DIM_TAG,
                                     [list(arr.shape), cbor2.CBORTag(tag, arr.tobytes())]))
    elif np is not None and isinstance(obj, np.generic):
        encoder.encode(obj.item())
    else:
        raise TypeError(f"cannot encode {type(obj).__name__} in a message body")


def _cbor_tag_hook(*args: Any) -> Any:
    # cbor2 5.x calls hook(decoder, tag); cbor2 6.x calls hook(tag, immutable).
    tag = args[1] if len(args) > 1 and isinstance(args[1], cbor2.CBORTag) else args[0]
    if tag.tag in _TYPED_ARRAY_TAGS and isinstance(tag.value, bytes):
        import numpy as np                     # a tensor arrived: whoever receives it needs numpy
        dtype = _dtype_tables()[1][tag.tag]
        if len(tag.value) % dtype.itemsize:
            raise ValueError(f"typed array tag {tag.tag}: {len(tag.value)} bytes is not a "
                             f"multiple of {dtype.itemsize}")
        return np.frombuffer(tag.value, dtype=dtype).copy()
    if tag.tag == _MULTI_DIM_TAG and isinstance(tag.value, (list, tuple)) and len(tag.value) == 2:
        shape, flat = tag.value
        np = _loaded_numpy()
        if np is not None and isinstance(flat, np.ndarray) and isinstance(shape, (list, tuple)) \
                and all(isinstance(d, int) and d >= 0 for d in shape):
            return flat.reshape(shape)
        raise ValueError("malformed RFC 8746 multi-dimensional array")
    return tag


def encode(message: dict[str, Any]) -> bytes:
    """Bytes of an envelope: JSON when possible, CBOR when it carries arrays or bytes."""
    try:
        return json.dumps(message, separators=(",", ":"), default=_json_default,
                          allow_nan=False).encode()
    except (_NeedsCbor, ValueError):
        return cbor2.dumps(message, default=_cbor_default)


def decode(payload: bytes) -> Any:
    """Inverse of ``encode``; raises ValueError (or a decoder error) on bad bytes."""
    if not payload:
        raise ValueError("empty payload")
    first = payload[0]
    if first == 0x7B:  # '{': our JSON is UTF-8 (decoding it here skips json's encoding sniffing)
        if _orjson is not None and _NINETEEN_DIGITS not in payload.translate(_DIGITS_AS_ZERO):
            # 1.5 us instead of 4.6 for a heartbeat: every message a coordinator receives goes
            # through here (13 % of its samples in a 10k-device soak). What orjson refuses
            # (NaN, 1e400, lone surrogates, bad bytes) goes on to json, and so does any run of
            # 19+ digits: orjson turns integers past 64 bits into floats, which would slip past
            # the integer range checks. Each payload gets exactly json's value or json's error.
            try:
                return _orjson.loads(payload)
            except _orjson.JSONDecodeError:
                pass
        return json.loads(payload.decode("utf-8"))
    if 0xA0 <= first <= 0xBF:
        return cbor2.loads(payload, tag_hook=_cbor_tag_hook)
    raise ValueError(f"payload is neither a JSON object nor a CBOR map (first byte 0x{first:02x})")


def is_cbor(payload: bytes) -> bool:
    return bool(payload) and 0xA0 <= payload[0] <= 0xBF
