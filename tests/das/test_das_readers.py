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
