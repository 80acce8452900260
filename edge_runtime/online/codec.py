"""Wire format of federated weights and updates: CBOR-ready dicts, optionally int8 and top-P% sparse.

Both sides use it (the device encodes its update, the coordinator the global model),
so it lives with the device code and depends only on numpy. An encoded vector is a
plain dict of ints, floats and bytes, so any CBOR/MQTT transport carries it as-is:

* ``{"n": N, "f32": <N float32 LE>}``                     dense float32
* ``{"n": N, "q8": <int8>, "scale": s}``                  dense int8, value = q * s
* ``{"n": N, "idx": <uint16|uint32 LE>, "f32"|"q8": ...}`` top-P% sparse: only the
  largest-magnitude entries, the rest are zero (a delta, so zero = "no change").

Symmetric per-vector int8 (scale = max|v| / 127) keeps the error under scale / 2
per entry; for the few-shot models here that is far below an SGD step.
"""
from __future__ import annotations

import math

import numpy as np

MAX_VALUES = 50_000_000  # refuse absurd sizes arriving from the wire


def encode_vector(values: np.ndarray, quantise: bool = False, top_p: float | None = None) -> dict:
    """Encode a flat float vector; ``top_p`` in percent keeps that share of the largest |values|."""
    v = np.asarray(values, np.float32).reshape(-1)
    out: dict = {"n": int(v.size)}
    if top_p is not None:
        if not 0 < top_p <= 100:
            raise ValueError(f"top_p is a percentage in (0, 100], got {top_p}")
        k = max(1, math.ceil(v.size * top_p / 100.0))
        if k < v.size:
            idx = np.sort(np.argpartition(np.abs(v), v.size - k)[v.size - k:])
            index_dtype = "<u2" if v.size <= 65536 else "<u4"
            out["idx"] = idx.astype(index_dtype).tobytes()
            v = v[idx]
    if quantise:
        peak = float(np.max(np.abs(v))) if v.size else 0.0
        scale = peak / 127.0 if peak > 0 else 1.0
        out["q8"] = np.clip(np.rint(v / scale), -127, 127).astype(np.int8).tobytes()
        out["scale"] = scale
    else:
        out["f32"] = v.astype("<f4").tobytes()
    return out


def decode_vector(encoded: dict) -> np.ndarray:
    """Inverse of :func:`encode_vector` (dense float32); validates sizes so bad input fails clearly."""
    if not isinstance(encoded, dict) or "n" not in encoded:
        raise ValueError("encoded vector must be a dict with 'n' and 'f32' or 'q8'")
    n = int(encoded["n"])
    if not 0 <= n <= MAX_VALUES:
        raise ValueError(f"encoded vector claims {n} values; limit is {MAX_VALUES}")
    if "q8" in encoded:
        values = np.frombuffer(encoded["q8"], np.int8).astype(np.float32) * np.float32(encoded["scale"])
    elif "f32" in encoded:
        values = np.frombuffer(encoded["f32"], "<f4").astype(np.float32)
    else:
        raise ValueError("encoded vector has neither 'f32' nor 'q8' values")
    if "idx" not in encoded:
        if values.size != n:
            raise ValueError(f"dense vector has {values.size} values, header says {n}")
        return values
    raw = encoded["idx"]
    index_dtype = "<u2" if n <= 65536 else "<u4"
    idx = np.frombuffer(raw, index_dtype).astype(np.int64)
    if idx.size != values.size or (idx.size and int(idx.max()) >= n):
        raise ValueError(f"sparse vector: {idx.size} indices for {values.size} values in a vector of {n}")
    dense = np.zeros(n, np.float32)
    dense[idx] = values
    return dense


def encoded_bytes(encoded: dict) -> int:
    """Size on the wire (CBOR) of an encoded vector or any message body holding them."""
    import cbor2

    return len(cbor2.dumps(encoded))
