"""End to end on a small simulated walkway: per-sensor tracking, cross-sensor linking, global ids.

Thresholds here are for a 25 s, 12-person scene (the CI budget); the acceptance figures on the
60 s / 20 and 40 people scenes come from benchmarks/lidar_bench.py.
"""
import numpy as np

from cloud_sync.lidar.global_tracks import evaluate_run, global_frames, link_online
from cloud_sync.lidar.linking import LinkerConfig


def test_per_sensor_tracking_and_global_linking(small_run):
    spec, run = small_run
    linker = link_online(run.segments)
    report = evaluate_run(run, linker)
    for sensor_id, scores in report["sensors"].items():
        assert scores["gt_objects"] > 50, f"{sensor_id} saw too few people to score"
        assert scores["mota"] >= 0.85, (sensor_id, scores)
        assert scores["idf1"] >= 0.8, (sensor_id, scores)
    assert report["links"]["true_links"] >= 4
    assert report["links"]["f1"] >= 0.85, report["links"]
    assert report["global"]["idf1"] >= 0.8, report["global"]


def test_segments_carry_features_and_embeddings_and_truth(small_run):
    _, run = small_run
    assert run.segments
    for segment in run.segments:
        assert segment.embedding is not None and abs(np.linalg.norm(segment.embedding) - 1) < 1e-4
        assert 1.2 < segment.features["height"] < 2.1
        assert len(segment.features["band_fraction"]) == 8
    assert sum(s.truth_id is not None for s in run.segments) >= 0.9 * len(run.segments)
    with_gait = [s.features["gait_hz"] for s in run.segments if s.features["gait_hz"]]
    assert with_gait and all(0.5 <= g <= 3.0 for g in with_gait)


def test_global_frames_are_world_tracks_with_stable_ids(small_run):
    _, run = small_run
    linker = link_online(run.segments, LinkerConfig())
    frames = global_frames(linker, run.times)
    assert len(frames) == len(run.times)
    seen = {}
    for frame in frames:
        ids = [tr["id"] for tr in frame["tracks"]]
        assert len(ids) == len(set(ids)), f"duplicate id in frame {frame['frame']}"
        for track in frame["tracks"]:
            assert -1 <= track["x"] <= 61 and -4 <= track["y"] <= 4
            seen.setdefault(track["id"], set()).add(track["sensor"])
    assert any(len(sensors) >= 2 for sensors in seen.values()), "no global id spans two sensors"
