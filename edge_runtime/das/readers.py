"""Readers: ASN OptoDAS HDF5, PRODML HDF5 and the npy/npz convention -> ``DasRecord``.

Every reader validates what it needs where the file enters and names the missing
dataset/attribute or the wrong shape, so a person can tell a truncated file from an
unsupported vendor layout.

npy/npz convention (our own, documented in docs/das.md):

* ``.npz`` with ``data`` (time x channel, strain or strain rate), ``fs`` (Hz), ``dx`` (m),
  optional ``t0`` (POSIX s), ``x0`` (m), ``units`` (str);
* ``.npy`` holds only ``data``; ``fs``/``dx`` come from the caller or a sidecar
  ``<name>.json`` with the same keys.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.das.record import DasRecord

SUPPORTED = ".h5/.hdf5 (ASN OptoDAS, PRODML, Febus A1, DAS-RCN/GDR), .tdms (Silixa iDAS), .npz, .npy (+ fs/dx)"


class DasFormatError(ValueError):
    """A DAS file that cannot be read: says which file, what was missing or wrong."""


def read_das(path: str | Path, fs: float | None = None, dx: float | None = None) -> DasRecord:
    """Read any supported DAS file; the format is recognised from its content."""
    path = Path(path)
    if not path.is_file():
        raise DasFormatError(f"{path}: no such file (supported: {SUPPORTED})")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return read_npz(path)
    if suffix == ".npy":
        return read_npy(path, fs=fs, dx=dx)
    if suffix == ".tdms":
        from edge_runtime.das.readers_tdms import read_tdms
        return read_tdms(path)
    if suffix in (".h5", ".hdf5", ".hdf"):
        import h5py
        try:
            with h5py.File(path, "r") as h5:
                if "Acquisition" in h5:
                    return _read_prodml(h5, path)
                if "header" in h5 and "data" in h5:
                    return _read_optodas(h5, path)
                if "DasRawData" in h5:
                    return _read_gdr(h5, path)
                febus = _febus_zone(h5)
                if febus is not None:
                    return _read_febus(h5, febus, path)
                top = ", ".join(sorted(h5.keys())[:10]) or "nothing"
        except OSError as exc:
            raise DasFormatError(f"{path}: not a readable HDF5 file ({exc})") from None
        raise DasFormatError(
            f"{path}: HDF5 layout not recognised (top level has {top}); expected OptoDAS "
            f"('header' group + 'data'), PRODML ('Acquisition/Raw[0]/RawData'), DAS-RCN/GDR "
            f"('DasRawData/RawData') or Febus ('<device>/Source1/Zone1/<data>')")
    raise DasFormatError(f"{path}: unknown extension {suffix!r}; supported: {SUPPORTED}")


# --------------------------------------------------------------------------- OptoDAS
def _read_optodas(h5: Any, path: Path) -> DasRecord:
    """ASN OptoDAS (file version 8 layout): ``data`` + scalars under ``header/``."""
    data = _dataset(h5, "data", path, "OptoDAS")
    dt = _scalar(h5, "header/dt", path, "OptoDAS")
    dx_native = _scalar(h5, "header/dx", path, "OptoDAS")
    channels = np.asarray(h5["header/channels"][()]) if "header/channels" in h5 else None
    if data.ndim != 2:
        raise DasFormatError(f"{path}: OptoDAS dataset 'data' has shape {data.shape}; "
                             f"expected 2-D (time x channel)")
    step = 1.0
    if channels is not None and channels.size > 1:
        if channels.size != data.shape[1]:
            raise DasFormatError(f"{path}: OptoDAS 'header/channels' lists {channels.size} "
                                 f"channels but 'data' has {data.shape[1]} columns")
        step = float(np.median(np.diff(channels)))      # spatially decimated files
    scale = float(h5["header/dataScale"][()]) if "header/dataScale" in h5 else 1.0
    values = np.asarray(data[()], dtype=np.float32)
    if scale != 1.0:
        values *= np.float32(scale)
    t0 = float(h5["header/time"][()]) if "header/time" in h5 else None
    unit = _text(h5["header/unit"][()]) if "header/unit" in h5 else "strain/s"
    x0 = float(channels[0]) * dx_native if channels is not None and channels.size else 0.0
    return DasRecord(values, fs=1.0 / dt, dx=dx_native * step, t0=t0, x0=x0, units=unit,
                     source=str(path), meta={"format": "OptoDAS",
                                             "file_version": _maybe(h5, "fileVersion"),
                                             "gauge_length_m": _maybe(h5, "header/gaugeLength")})


# --------------------------------------------------------------------------- PRODML
def _read_prodml(h5: Any, path: Path) -> DasRecord:
    """PRODML 2.x: ``Acquisition/Raw[0]/RawData`` with attributes on ``Acquisition``."""
    acq = h5["Acquisition"]
    raws = sorted(k for k in acq.keys() if k.startswith("Raw["))
    if not raws:
        raise DasFormatError(f"{path}: PRODML file has no 'Acquisition/Raw[N]' group")
    raw = acq[raws[0]]
    data = _dataset(raw, "RawData", path, f"PRODML Acquisition/{raws[0]}")
    if data.ndim != 2:
        raise DasFormatError(f"{path}: PRODML RawData has shape {data.shape}; expected 2-D")
    dims = [_text(d) for d in data.attrs.get("Dimensions", [b"time", b"locus"])]
    values = np.asarray(data[()], dtype=np.float32)
    if dims and dims[0].lower().startswith("locus"):
        values = values.T
    dx = _attr(acq, "SpatialSamplingInterval", path, "PRODML Acquisition")
    fs = _prodml_rate(raw, path)
    start = data.attrs.get("PartStartTime", acq.attrs.get("MeasurementStartTime"))
    t0 = _iso_to_posix(_text(start)) if start is not None else None
    if t0 == 0.0:
        t0 = None                                         # zeroed clock: no absolute time
    start_locus = int(raw.attrs.get("StartLocusIndex", acq.attrs.get("StartLocusIndex", 0)))
    unit = _text(raw.attrs.get("RawDataUnit", b"counts"))
    return DasRecord(values, fs=fs, dx=float(dx), t0=t0, x0=start_locus * float(dx),
                     units=unit, source=str(path),
                     meta={"format": "PRODML", "schema": _text(acq.attrs.get("schemaVersion", b"")),
                           "gauge_length_m": float(acq.attrs.get("GaugeLength", np.nan))})


def _prodml_rate(raw: Any, path: Path) -> float:
    if "OutputDataRate" in raw.attrs:
        return float(raw.attrs["OutputDataRate"])
    if "RawDataTime" in raw and raw["RawDataTime"].shape[0] > 1:
        times_us = np.asarray(raw["RawDataTime"][:2], dtype=np.float64)
        return 1e6 / float(times_us[1] - times_us[0])
    raise DasFormatError(f"{path}: PRODML raw group has neither attribute 'OutputDataRate' "
                         f"nor dataset 'RawDataTime'; cannot tell the sampling rate")


# --------------------------------------------------------------------------- DAS-RCN / GDR
def _read_gdr(h5: Any, path: Path) -> DasRecord:
    """DAS-RCN metadata + PRODML-like raw data (DOE Geothermal Data Repository files)."""
    data = _dataset(h5, "DasRawData/RawData", path, "GDR")
    if data.ndim != 2:
        raise DasFormatError(f"{path}: GDR RawData has shape {data.shape}; expected 2-D")
    dims = [str(d) for d in data.attrs.get("DasDimensions", ["time", "locus"])]
    values = np.asarray(data[()], dtype=np.float32)
    if dims and dims[0].lower().startswith("locus"):
        values = values.T
    times = np.asarray(_dataset(h5, "DasRawData/DasTimeArray", path, "GDR")[()], dtype=np.float64)
    acq = h5["DasMetadata/Interrogator/Acquisition"].attrs if "DasMetadata/Interrogator/Acquisition" in h5 else {}
    if times.size >= 2 and times[-1] > times[0]:
        fs = 1e9 * (times.size - 1) / (times[-1] - times[0])  # DasTimeArray is in ns
    elif "AcquisitionSampleRate" in acq:
        fs = float(_text(acq["AcquisitionSampleRate"]))
    else:
        raise DasFormatError(f"{path}: GDR file has neither a usable DasTimeArray nor AcquisitionSampleRate")
    if "SpatialSamplingInterval" not in acq:
        raise DasFormatError(f"{path}: GDR attribute DasMetadata/Interrogator/Acquisition/"
                             f"SpatialSamplingInterval is missing")
    return DasRecord(values, fs=fs, dx=float(_text(acq["SpatialSamplingInterval"])),
                     t0=float(times[0]) / 1e9 if times.size else None, units="unknown (raw)",
                     source=str(path), meta={"format": "GDR", "gauge_length_m": _text(acq.get("GaugeLength", "nan"))})


# --------------------------------------------------------------------------- Febus
def _febus_zone(h5: Any) -> Any | None:
    """The ``<device>/Source1/Zone1`` group of a Febus A1 file, if this is one."""
    for device in h5.values():
        source = device.get("Source1") if hasattr(device, "get") else None
        zone = source.get("Zone1") if source is not None else None
        if zone is not None and "Spacing" in zone.attrs:
            return zone
    return None


def _read_febus(h5: Any, zone: Any, path: Path) -> DasRecord:
    """Febus A1: a cube ``blocks x samples x channels``; blocks overlap by what their times say.

    dascore assumes a 50 % overlap for this legacy layout and reads 1,249 samples of the
    DASDAE sample; here the overlap comes from the block timestamps (1 s apart, 250 samples
    at 250 Hz: none), so the same file gives 2,500 samples. Treat its timing as approximate.
    """
    cubes = [v for v in zone.values() if getattr(v, "ndim", 0) == 3]
    if not cubes:
        raise DasFormatError(f"{path}: Febus zone {zone.name} holds no 3-D (block x time x channel) dataset")
    cube = np.asarray(cubes[0][()], dtype=np.float32)
    source = zone.parent
    fs = float(np.ravel(zone.attrs.get("SamplingRate", source.attrs.get("SamplingRate", [np.nan])))[0])
    if not np.isfinite(fs):
        raise DasFormatError(f"{path}: Febus attribute 'SamplingRate' is missing")
    dx = float(np.ravel(zone.attrs["Spacing"])[0])
    times = np.ravel(source["time"][()]) if "time" in source else np.zeros(0)
    per_block = cube.shape[1]
    step = int(round(float(np.median(np.diff(times))) * fs)) if times.size > 1 else per_block
    keep = min(max(step, 1), per_block)
    start = (per_block - keep) // 2                   # overlap shared by both block edges
    data = cube[:, start:start + keep, :].reshape(-1, cube.shape[2])
    return DasRecord(data, fs=fs, dx=dx, t0=float(times[0]) if times.size else None, units="strain rate (nε/s)",
                     source=str(path), meta={"format": "Febus", "blocks": int(cube.shape[0]),
                                             "overlap_samples": per_block - keep})


# --------------------------------------------------------------------------- numpy
def read_npz(path: Path) -> DasRecord:
    with np.load(path, allow_pickle=False) as npz:
        missing = [k for k in ("data", "fs", "dx") if k not in npz.files]
        if missing:
            raise DasFormatError(f"{path}: npz lacks {', '.join(missing)} (has {', '.join(npz.files)});"
                                 f" the convention is data (time x channel), fs (Hz), dx (m)")
        meta = {k: npz[k].item() for k in ("t0", "x0") if k in npz.files}
        units = str(npz["units"]) if "units" in npz.files else "strain/s"
        return _from_array(npz["data"], path, float(npz["fs"]), float(npz["dx"]),
                           meta.get("t0"), float(meta.get("x0", 0.0)), units)


def read_npy(path: Path, fs: float | None = None, dx: float | None = None) -> DasRecord:
    sidecar = path.with_suffix(".json")
    extra: dict[str, Any] = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
    fs = fs if fs is not None else extra.get("fs")
    dx = dx if dx is not None else extra.get("dx")
    if fs is None or dx is None:
        raise DasFormatError(f"{path}: a .npy file holds only the array; give fs and dx "
                             f"(--fs/--dx) or write {sidecar.name} with {{\"fs\": .., \"dx\": ..}}")
    return _from_array(np.load(path, allow_pickle=False), path, float(fs), float(dx),
                       extra.get("t0"), float(extra.get("x0", 0.0)), extra.get("units", "strain/s"))


def write_npz(record: DasRecord, path: str | Path) -> Path:
    """Store a record by the npz convention (what ``das simulate`` writes)."""
    path = Path(path)
    extra = {"t0": record.t0} if record.t0 is not None else {}
    np.savez(path, data=record.data, fs=record.fs, dx=record.dx, x0=record.x0,
             units=record.units, **extra)
    return path


def _from_array(data: np.ndarray, path: Path, fs: float, dx: float, t0: Any, x0: float,
                units: str) -> DasRecord:
    if data.ndim != 2:
        raise DasFormatError(f"{path}: 'data' has shape {data.shape}; expected 2-D time x channel")
    return DasRecord(data, fs=fs, dx=dx, t0=None if t0 is None else float(t0), x0=x0,
                     units=units, source=str(path), meta={"format": path.suffix[1:]})


# --------------------------------------------------------------------------- helpers
def _dataset(group: Any, name: str, path: Path, what: str) -> Any:
    if name not in group:
        raise DasFormatError(f"{path}: {what} dataset '{name}' is missing")
    return group[name]


def _scalar(h5: Any, name: str, path: Path, what: str) -> float:
    return float(_dataset(h5, name, path, what)[()])


def _attr(obj: Any, name: str, path: Path, what: str) -> Any:
    if name not in obj.attrs:
        raise DasFormatError(f"{path}: {what} attribute '{name}' is missing")
    return obj.attrs[name]


def _maybe(h5: Any, name: str) -> Any:
    return h5[name][()].item() if name in h5 else None


def _text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else value[0]
    return value.decode() if isinstance(value, bytes) else str(value)


def _iso_to_posix(text: str) -> float | None:
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()
