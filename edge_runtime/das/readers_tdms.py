"""Silixa iDAS TDMS (NI TDMS 4712/4713), read without npTDMS.

Only what an iDAS file uses is supported: little-endian segments whose raw data are one
numeric type for every channel (``/'Measurement'/'<n>'``), interleaved or not, and the
root properties ``SamplingFrequency[Hz]``, ``SpatialResolution[m]`` (times ``Fibre Length
Multiplier``), ``StartPosition[m]`` and ``GPSTimeStamp``. Files cut short (as the DASDAE
sample is) give the complete samples they hold. Anything else raises ``DasFormatError``
saying what was found.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from edge_runtime.das.record import DasRecord

LEAD_IN = 28
_NUMERIC = {1: "<i1", 2: "<i2", 3: "<i4", 4: "<i8", 5: "<u1", 6: "<u2", 7: "<u4", 8: "<u8", 9: "<f4", 10: "<f8"}
_SCALAR = {1: "b", 2: "h", 3: "i", 4: "q", 5: "B", 6: "H", 7: "I", 8: "Q", 9: "f", 10: "d", 0x21: "?"}
LABVIEW_EPOCH = 2082844800            # seconds from 1904-01-01 to 1970-01-01


class _Cursor:
    def __init__(self, buf: bytes, path: Path):
        self.buf, self.pos, self.path = buf, 0, path

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            from edge_runtime.das.readers import DasFormatError
            raise DasFormatError(f"{self.path}: TDMS metadata ends early (at byte {self.pos})")
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return values[0] if len(values) == 1 else values

    def text(self) -> str:
        n = self.take("I")
        out = self.buf[self.pos:self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return out


def _value(cur: _Cursor, type_code: int):
    if type_code == 0x20:
        return cur.text()
    if type_code == 0x44:                    # timestamp: u64 fraction, i64 seconds since 1904
        fraction, seconds = cur.take("Qq")
        return seconds - LABVIEW_EPOCH + fraction / 2.0 ** 64
    if type_code not in _SCALAR:
        from edge_runtime.das.readers import DasFormatError
        raise DasFormatError(f"{cur.path}: TDMS property of unsupported type 0x{type_code:x}")
    return cur.take(_SCALAR[type_code])


def read_tdms(path: Path) -> DasRecord:
    from edge_runtime.das.readers import DasFormatError
    raw = path.read_bytes()
    if raw[:4] != b"TDSm" or len(raw) < LEAD_IN:
        raise DasFormatError(f"{path}: not a TDMS file (no 'TDSm' lead-in)")
    toc, version, _next, meta_len = struct.unpack_from("<iiQQ", raw, 4)
    if toc & 64:
        raise DasFormatError(f"{path}: big-endian TDMS is not supported")
    if not toc & 2:
        raise DasFormatError(f"{path}: first TDMS segment has no metadata")
    cur = _Cursor(raw[LEAD_IN:LEAD_IN + meta_len], path)
    props: dict = {}
    channels: list[int] = []                  # data type of each channel with raw data
    for _ in range(cur.take("I")):
        name = cur.text()
        index = cur.take("I")
        if index not in (0xFFFFFFFF, 0):
            dtype, _dim, _count = cur.take("IIQ")
            channels.append(dtype)
        for _ in range(cur.take("I")):
            key, type_code = cur.text(), cur.take("I")
            value = _value(cur, type_code)
            if name == "/":
                props[key] = value
    if not channels or len(set(channels)) != 1 or channels[0] not in _NUMERIC:
        raise DasFormatError(f"{path}: TDMS channels hold {sorted(set(channels))}; expected one numeric type")
    for key in ("SamplingFrequency[Hz]", "SpatialResolution[m]"):
        if key not in props:
            raise DasFormatError(f"{path}: TDMS root property '{key}' is missing (not an iDAS file?)")
    dtype = np.dtype(_NUMERIC[channels[0]])
    n_ch = len(channels)
    body = raw[LEAD_IN + meta_len:]
    rows = len(body) // (dtype.itemsize * n_ch)
    if rows == 0:
        raise DasFormatError(f"{path}: TDMS file holds no complete sample of its {n_ch} channels")
    flat = np.frombuffer(body[:rows * n_ch * dtype.itemsize], dtype=dtype)
    data = flat.reshape(rows, n_ch) if toc & 32 else flat.reshape(n_ch, rows).T
    dx = float(props["SpatialResolution[m]"]) * float(props.get("Fibre Length Multiplier", 1.0))
    return DasRecord(data.astype(np.float32), fs=float(props["SamplingFrequency[Hz]"]), dx=dx,
                     t0=props.get("GPSTimeStamp"), x0=float(props.get("StartPosition[m]", 0.0)),
                     units="counts", source=str(path),
                     meta={"format": "TDMS", "version": version,
                           "gauge_length_m": props.get("GaugeLength")})
