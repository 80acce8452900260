"""Readers: the real sample files load; bad files fail with errors that say what is wrong."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from edge_runtime.das.readers import DasFormatError, read_das, write_npz
from edge_runtime.das.record import DasRecord
from edge_runtime.das.streaming import detect_record


def test_optodas_sample_loads_with_header_geometry(shared_data):
    record = read_das(shared_data / "das" / "decimated_optodas.hdf5")
    assert record.data.shape == (5000, 51) and record.data.dtype == np.float32
    assert record.fs == pytest.approx(500.0)
    assert record.dx == pytest.approx(51.065, abs=1e-3)         # every 50th channel of 1.0213 m
    assert record.x0 == pytest.approx(33192.26, abs=0.1)
    assert record.t0 == pytest.approx(1698416617.02)
    assert record.units == "strain/s"
    assert np.isfinite(record.data).all() and 0 < np.abs(record.data).max() < 1e-4


def test_prodml_sample_loads_time_by_locus(shared_data):
    record = read_das(shared_data / "das" / "prodml_2.0.h5")
    assert record.data.shape == (2500, 512)
    assert record.fs == pytest.approx(200.0)
    assert record.dx == pytest.approx(1.02095, abs=1e-4)
    assert record.t0 is None                                      # zeroed clock in this file
    assert record.x0 == pytest.approx(-260 * 1.02095, abs=0.01)
    assert record.meta["format"] == "PRODML" and record.data.std() > 0


def test_real_files_run_through_detection_without_vehicles_invented(shared_data):
    for name in ("decimated_optodas.hdf5", "prodml_2.0.h5"):
        events = detect_record(read_das(shared_data / "das" / name))
        assert isinstance(events, list)
        assert len(events) <= 3        # 10-12 s of untrafficked real noise


def test_npz_roundtrip_and_npy_with_sidecar(tmp_path):
    data = np.random.default_rng(0).standard_normal((300, 20)).astype(np.float32)
    rec = DasRecord(data, fs=100.0, dx=2.5, t0=1700000000.0, x0=10.0)
    back = read_das(write_npz(rec, tmp_path / "a.npz"))
    assert np.array_equal(back.data, data)
    assert (back.fs, back.dx, back.t0, back.x0) == (100.0, 2.5, 1700000000.0, 10.0)
    np.save(tmp_path / "b.npy", data)
    with pytest.raises(DasFormatError, match="fs and dx"):
        read_das(tmp_path / "b.npy")
    assert read_das(tmp_path / "b.npy", fs=50, dx=1).fs == 50
    (tmp_path / "b.json").write_text(json.dumps({"fs": 80, "dx": 4}))
    assert read_das(tmp_path / "b.npy").dx == 4


def test_bad_files_name_what_is_missing(tmp_path):
    np.savez(tmp_path / "nodx.npz", data=np.zeros((10, 3)), fs=10.0)
    with pytest.raises(DasFormatError, match="lacks dx"):
        read_das(tmp_path / "nodx.npz")
    np.savez(tmp_path / "cube.npz", data=np.zeros((4, 3, 2)), fs=10.0, dx=1.0)
    with pytest.raises(DasFormatError, match=r"shape \(4, 3, 2\)"):
        read_das(tmp_path / "cube.npz")
    with h5py.File(tmp_path / "opto.h5", "w") as h5:
        h5["data"] = np.zeros((10, 4), dtype=np.float32)
        h5["header/dx"] = 1.0
    with pytest.raises(DasFormatError, match="'header/dt' is missing"):
        read_das(tmp_path / "opto.h5")
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5["something"] = np.zeros(3)
    with pytest.raises(DasFormatError, match="not recognised"):
        read_das(tmp_path / "other.h5")
    with h5py.File(tmp_path / "prodml.h5", "w") as h5:
        h5.create_group("Acquisition/Raw[0]")["RawData"] = np.zeros((10, 4), dtype=np.int16)
    with pytest.raises(DasFormatError, match="SpatialSamplingInterval"):
        read_das(tmp_path / "prodml.h5")
    with pytest.raises(DasFormatError, match="no such file"):
        read_das(tmp_path / "missing.h5")


def test_every_shared_file_goes_through_detection_and_its_shuffle_finds_nothing(shared_data):
    """Each real file (five formats) reads and runs; channel-shuffled, it yields no vehicle."""
    files = sorted(p for p in (shared_data / "das").iterdir() if p.suffix != ".md")
    assert len(files) >= 5
    formats = set()
    for path in files:
        record = read_das(path)
        formats.add(record.meta["format"])
        assert record.n_samples > 100 and np.isfinite(record.data).all(), path.name
        events = detect_record(record)
        print(f"{path.name}: {record.n_channels} ch x {record.duration_s:.2f} s at {record.fs:g} Hz, "
              f"dx {record.dx:.3f} m -> {len(events)} vehicles")
        order = np.random.default_rng(1).permutation(record.n_channels)
        shuffled = DasRecord(record.data[:, order], fs=record.fs, dx=record.dx)
        assert detect_record(shuffled) == [], f"{path.name}: vehicles in channel-shuffled data"
    assert formats == {"OptoDAS", "PRODML", "TDMS", "Febus", "GDR"}


def test_tdms_febus_gdr_geometry(shared_data):
    tdms = read_das(shared_data / "das" / "sample_tdms_file_v4713.tdms")
    assert tdms.data.shape == (216, 2432) and tdms.fs == 500.0
    assert tdms.dx == pytest.approx(2.0419, abs=1e-3) and tdms.x0 == pytest.approx(240.0)
    assert tdms.t0 == pytest.approx(1555299215.812, abs=1e-3)          # 2019-04-15T03:33:35.812Z
    febus = read_das(shared_data / "das" / "valencia_febus_example.h5")
    assert febus.data.shape[1] == 100 and febus.fs == 250.0 and febus.dx == pytest.approx(16.8)
    gdr = read_das(shared_data / "das" / "gdr_1.h5")
    assert gdr.data.shape == (10000, 10) and gdr.fs == pytest.approx(1000.0, rel=1e-3)
    assert gdr.dx == pytest.approx(1.021) and gdr.t0 == pytest.approx(1457458830.195, abs=1e-3)


def test_truncated_tdms_fails_clearly(tmp_path, shared_data):
    raw = (shared_data / "das" / "sample_tdms_file_v4713.tdms").read_bytes()
    (tmp_path / "cut.tdms").write_bytes(raw[:5000])
    with pytest.raises(DasFormatError, match="metadata ends early"):
        read_das(tmp_path / "cut.tdms")
    (tmp_path / "not.tdms").write_bytes(b"hello world, not a tdms file at all")
    with pytest.raises(DasFormatError, match="TDSm"):
        read_das(tmp_path / "not.tdms")
