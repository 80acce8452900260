"""Acceptance on real data: the KITTI frame's labelled pedestrian is found (label in camera
coordinates, transformed with the frame's calibration)."""
import numpy as np

from edge_runtime.lidar.detect import detect_people
from edge_runtime.lidar.kitti import camera_to_velodyne, read_calibration, read_labels
from edge_runtime.lidar.readers import read_points


def test_labelled_pedestrian_found_within_half_a_metre(shared_data):
    root = shared_data / "kitti"
    label = [o for o in read_labels(root / "label_2" / "000000.txt") if o.kind == "Pedestrian"][0]
    calib = read_calibration(root / "calib" / "000000.txt")
    target = camera_to_velodyne(label.bottom_centre_cam, calib)[0]
    assert 8 < target[0] < 10, "the label should lie ~8.7 m ahead of the LiDAR"

    detections = detect_people(read_points(root / "velodyne" / "000000.bin"))
    assert detections, "no person candidates at all"
    distance = [np.linalg.norm(np.array([d.x, d.y, d.z]) - target) for d in detections]
    best = detections[int(np.argmin(distance))]
    assert min(distance) <= 0.5, f"nearest candidate {min(distance):.2f} m from the label"
    assert abs(best.height - label.height) <= 0.15, f"height {best.height:.2f} vs label {label.height:.2f}"
    assert best.n_points > 100


def test_detect_cli_json_on_kitti(shared_data, capsys):
    import json

    from edge_runtime.cli import main

    assert main(["lidar", "detect", str(shared_data / "kitti" / "velodyne" / "000000.bin"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["points"] == 115384
    assert {"x", "y", "z", "height", "points"} <= set(out["people"][0])


def test_real_frame_precision_report_counts_people_and_others(shared_data):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import lidar_real_frames

    result = lidar_real_frames.kitti(shared_data / "kitti")
    for method in ("ours", "naive_single_frame"):
        scores = result[method]
        assert scores["people_found"] == 1, scores
        assert scores["candidates_in_camera_view"] == scores["people_found"] + scores["not_people_in_view"]
    assert result["ours"]["candidates"] < result["naive_single_frame"]["candidates"]
    nus = lidar_real_frames.nuscenes(shared_data / "pointclouds_nuscenes")
    assert nus["precision"] is None and nus["why_no_precision"]
