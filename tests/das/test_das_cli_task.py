"""The CLI and the agent task, end to end on files they make themselves."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from edge_runtime.agent.task import TaskContext, load_task_class
from edge_runtime.das.readers import write_npz
from edge_runtime.das.record import DasRecord
from edge_runtime.das.simulate import SceneConfig, make_scene
from edge_runtime.waiting import wait_until

CLI = [sys.executable, "-m", "edge_runtime.cli"]


def test_cli_simulate_then_detect_json_and_plot(tmp_path, artifacts_dir):
    scene_file, truth_file, png = tmp_path / "s.npz", tmp_path / "t.json", tmp_path / "w.png"
    run = subprocess.run(CLI + ["das", "simulate", str(scene_file), "--seed", "21", "--duration", "70",
                                "--channels", "300", "--dx", "3", "--fs", "200", "--truth", str(truth_file)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = subprocess.run(CLI + ["das", "detect", str(scene_file), "--json", "--plot", str(png)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    truth = json.loads(truth_file.read_text())
    assert abs(len(doc["vehicles"]) - len(truth)) <= 2
    for key in ("t_center_s", "speed_kmh", "class", "confidence", "t_entry_s", "t_exit_s"):
        assert key in doc["vehicles"][0]
    assert png.stat().st_size > 20_000
    shutil.copy(png, artifacts_dir / "das_waterfall.png")


def test_cli_reports_bad_input_without_traceback(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((10, 4)))
    out = subprocess.run(CLI + ["das", "detect", str(tmp_path / "x.npy")], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "--fs/--dx" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run(CLI + ["das", "detect", str(tmp_path / "x.npy"), "--fs", "10", "--dx", "1",
                                "--params", '{"windw_s": 3}'], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "windw_s" in out.stderr


def test_cli_says_why_nothing_was_found(tmp_path):
    """A silent zero is a bug: a record too short to show a vehicle says so (stderr; --json unchanged)."""
    write_npz(DasRecord(np.random.default_rng(0).standard_normal((300, 40)), fs=100.0, dx=2.0), tmp_path / "n.npz")
    out = subprocess.run(CLI + ["das", "detect", str(tmp_path / "n.npz"), "--json"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["vehicles"] == []
    assert "no vehicles found" in out.stderr and "lasts 3.00 s" in out.stderr


def _context(tmp_path: Path) -> TaskContext:
    return TaskContext(device_id="pi-test", profile=None, state_dir=tmp_path / "state")


def test_task_streams_a_folder_as_files_arrive(tmp_path):
    scene = make_scene(SceneConfig(seed=22, duration_s=130.0, n_channels=250, dx=4.0, fs=200.0))
    record = scene.record()
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    task = load_task_class("das")("traffic", {"folder": str(incoming), "pattern": "*.npz"}, _context(tmp_path))
    task.source.settle_s = 0.0
    records: list[dict] = []
    step = int(10 * record.fs)
    for i, start in enumerate(range(0, record.n_samples, step)):      # 10-s files keep arriving
        part = DasRecord(record.data[start:start + step], fs=record.fs, dx=record.dx)
        write_npz(part, incoming / f"part_{i:04d}.npz")
        if i == 5:   # a foreign file (other channel count) is skipped, not fatal
            write_npz(DasRecord(np.zeros((100, 7)), fs=record.fs, dx=record.dx), incoming / "part_0005b.npz")
        records += task.step()
    wait_until(lambda: not task.source.pending(), 5.0, what="all files consumed")
    streaming_minutes = [r["minute"] for r in records if r["type"] == "minute"]
    assert streaming_minutes == [0]          # minute 1 is final only once the stream ends
    records += task.drain()
    vehicles = [r for r in records if r["type"] == "vehicle"]
    minutes = [r for r in records if r["type"] == "minute"]
    assert task.status()["chunks"] == 13
    assert len(task.source.skipped) == 1 and "7 channels" in task.source.skipped[0]
    assert [m["minute"] for m in minutes] == [0, 1]
    truth_minute0 = sum(v.t_center_s < 60 for v in scene.vehicles)
    assert abs(minutes[0]["count"] - truth_minute0) <= 2
    assert minutes[0]["count"] == minutes[0]["cars"] + minutes[0]["trucks"]
    assert len(vehicles) >= truth_minute0


def test_task_on_simulated_source_flushes_at_the_end(tmp_path):
    params = {"source": "simulate", "simulate": {"seed": 23, "duration_s": 65.0, "n_channels": 200,
                                                 "dx": 5.0, "fs": 200.0, "chunk_s": 20.0}}
    task = load_task_class("das")("sim", params, _context(tmp_path))
    records = []
    for _ in range(6):
        records += task.step()
    vehicles = [r for r in records if r["type"] == "vehicle"]
    truth = task.source.scene.vehicles
    assert abs(len(vehicles) - len(truth)) <= 2
    assert any(r["type"] == "minute" and r["minute"] == 0 for r in records)
