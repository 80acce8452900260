"""The scene folder, the CLI (simulate, track --json --plot) and the agent task."""
import json

import numpy as np
import pytest

from edge_runtime.agent.task import TaskContext, load_task_class
from edge_runtime.cli import main
from edge_runtime.lidar.scene_format import read_scene


def test_simulate_writes_a_readable_scene(tiny_scene_folder):
    scene = read_scene(tiny_scene_folder)
    assert scene.n_frames == 60 and [s.sensor_id for s in scene.sensors] == ["s0", "s1"]
    assert scene.sensors[0].beams == 32 and scene.sensors[0].azimuth_steps == 512
    points = scene.read_frame("s0", 10)
    labels = scene.read_labels("s0", 10)
    assert points.shape[1] == 3 and labels.shape == (len(points),)
    assert scene.ground_truth()[10]


def test_track_cli_prints_world_tracks_per_frame_and_plots(tiny_scene_folder, tmp_path, capsys):
    plot = tmp_path / "tracks.png"
    assert main(["lidar", "track", str(tiny_scene_folder), "--json", "--plot", str(plot)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 60 and lines[0]["frame"] == 0
    tracks = [tr for line in lines for tr in line["tracks"]]
    assert tracks, "nobody tracked in the tiny scene"
    assert set(tracks[0]) == {"id", "x", "y", "sensor"}
    assert plot.stat().st_size > 10_000


def test_track_cli_reports_a_missing_scene(tmp_path, capsys):
    assert main(["lidar", "track", str(tmp_path)]) == 2
    assert "scene.json" in capsys.readouterr().err


def test_agent_task_publishes_tracks_and_segments_never_points(tiny_scene_folder, tmp_path):
    task_class = load_task_class("lidar")
    context = TaskContext("pi-lidar", None, tmp_path)
    task = task_class("hall-s0", {"scene": str(tiny_scene_folder), "sensor": "s0", "frames_per_step": 10},
                      context)
    records = []
    for _ in range(7):
        records.extend(task.step())
    kinds = {r["type"] for r in records}
    assert {"tracks", "segment", "health"} <= kinds <= {"tracks", "segment", "health"}
    first_health = next(r for r in records if r["type"] == "health")
    assert first_health["status"] in {"ok", "degraded", "blind"} and isinstance(first_health["issues"], list)
    assert sum(r["type"] == "tracks" for r in records) == 60
    for record in records:
        for value in record.values():
            assert not isinstance(value, np.ndarray)
        assert "points" not in record
    segment = next(r for r in records if r["type"] == "segment")
    assert len(segment["embedding"]) == 16 and "height" in segment["features"]
    assert json.dumps(records)          # plain JSON types only
    status = task.status()
    assert status["frames"] == 60 and status["background"]["learned"]
    assert status["health"]["status"] == "ok", status["health"]["issues"]
    assert status["health"]["ground"]["source"] == "mount"


def test_agent_task_rejects_an_unknown_sensor(tiny_scene_folder, tmp_path):
    with pytest.raises(ValueError, match="not in scene"):
        load_task_class("lidar")("x", {"scene": str(tiny_scene_folder), "sensor": "nope"},
                                 TaskContext("d", None, tmp_path))


def test_agent_task_loops_the_scene_with_time_going_on(tiny_scene_folder, tmp_path):
    """``loop: true`` (the demo) replays the scene for the whole run; timestamps keep increasing."""
    task = load_task_class("lidar")("hall-s0", {"scene": str(tiny_scene_folder), "sensor": "s0",
                                                "frames_per_step": 10, "loop": True},
                                    TaskContext("pi-lidar", None, tmp_path))
    n = task.scene.n_frames
    records = []
    for _ in range(-(-2 * n // 10) + 1):
        records.extend(task.step())
    times = [r["t"] for r in records if r["type"] == "tracks"]
    assert len(times) > n and task.loops >= 1
    assert all(b > a for a, b in zip(times, times[1:])), "time went backwards at the replay"


def test_simulate_a_catalogue_sensor_and_track_it_with_json_lines(tmp_path, capsys):
    folder = tmp_path / "vlp"
    assert main(["lidar", "simulate", str(folder), "--model", "VLP-16", "--height", "2.2", "--tilt", "10",
                 "--people", "6", "--duration", "4", "--sensors", "1", "--varied", "--seed", "2"]) == 0
    scene = read_scene(folder)
    sensor = scene.sensors[0]
    assert (sensor.model, sensor.beams, sensor.z, sensor.pitch_deg) == ("VLP-16", 16, 2.2, 10.0)
    capsys.readouterr()
    assert main(["lidar", "track", str(folder), "--json", "--no-embedding"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 40 and all(set(line) == {"frame", "t", "tracks"} for line in lines)
    assert main(["lidar", "simulate", str(tmp_path / "bad"), "--model", "VLP-99"]) == 2
    assert "unknown LiDAR model" in capsys.readouterr().err
