"""Person precision on the real frames in shared data: the KITTI frame (HDL-64E, one labelled
pedestrian) and the nuScenes sweep (HDL-32E, no annotations in shared data).

    python benchmarks/lidar_real_frames.py [--out benchmarks/results/lidar_real_frames.json]

One frame means no background model: both methods run their single-frame path. Ours is
``lidar detect`` (RANSAC floor, ground-plane clusters, split of merged people, person filter);
the naive peer's single-frame variant is its bird's-eye-view clusters and size filter on the
points above the same floor (its range-image background needs many frames). KITTI labels only
objects inside the front camera's view, so precision is counted there (|azimuth| ≤ 41°, the
camera's half field of view); a candidate within 0.5 m of a Pedestrian / Person_sitting /
Cyclist label is a person. nuScenes: candidate counts only — precision cannot be computed
without annotations, and we say so instead of guessing.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge_runtime.data_paths import shared_data_dir  # noqa: E402
from edge_runtime.lidar.clustering import cluster_ground_plane  # noqa: E402
from edge_runtime.lidar.detect import detect_people  # noqa: E402
from edge_runtime.lidar.ground import fit_ground_plane  # noqa: E402
from edge_runtime.lidar.person_filter import cluster_stats  # noqa: E402

CAMERA_HALF_FOV_DEG = 41.0
PERSON_KINDS = ("Pedestrian", "Person_sitting", "Cyclist")


def naive_single_frame(points: np.ndarray) -> np.ndarray:
    """(K, 2) candidate centres of the naive peer's BEV clusters + size filter, one frame."""
    plane = fit_ground_plane(points)
    height = plane.height(points)
    body = (height > 0.1) & (height < 2.4)
    labels = cluster_ground_plane(points[body, :2], 0.2)
    stats = cluster_stats(points[body, :2], height[body], labels)
    keep = (stats.count >= 5) & (stats.extent.max(axis=1) <= 1.2) & (stats.top >= 0.8) & (stats.top <= 2.3)
    return stats.centre_xy[keep]


def precision_in_view(centres: np.ndarray, people: np.ndarray) -> dict:
    azimuth = np.degrees(np.arctan2(centres[:, 1], centres[:, 0])) if len(centres) else np.zeros(0)
    in_view = centres[(centres[:, 0] > 0) & (np.abs(azimuth) <= CAMERA_HALF_FOV_DEG)] if len(centres) else centres
    if len(in_view) and len(people):
        distance = np.linalg.norm(in_view[:, None, :] - people[None, :, :2], axis=2)
        is_person = distance.min(axis=1) <= 0.5
        found = int((distance.min(axis=0) <= 0.5).sum())
    else:
        is_person, found = np.zeros(len(in_view), bool), 0
    return {"candidates": int(len(centres)), "candidates_in_camera_view": int(len(in_view)),
            "people_found": found, "people_labelled": int(len(people)),
            "not_people_in_view": int((~is_person).sum()),
            "precision_in_view": round(float(is_person.mean()), 4) if len(in_view) else None}


def kitti(root: Path) -> dict:
    from edge_runtime.lidar.kitti import camera_to_velodyne, read_calibration, read_labels
    from edge_runtime.lidar.readers import read_points

    points = read_points(root / "velodyne" / "000000.bin")
    calib = read_calibration(root / "calib" / "000000.txt")
    labels = [o for o in read_labels(root / "label_2" / "000000.txt") if o.kind in PERSON_KINDS]
    people = np.array([camera_to_velodyne(o.bottom_centre_cam, calib)[0] for o in labels]).reshape(-1, 3)
    ours = np.array([[d.x, d.y] for d in detect_people(points)]).reshape(-1, 2)
    return {"points": int(len(points)), "ours": precision_in_view(ours, people),
            "naive_single_frame": precision_in_view(naive_single_frame(points), people)}


def nuscenes(root: Path) -> dict:
    files = sorted(root.glob("*.pcd.bin"))
    if not files:
        return {"skipped": f"no nuScenes sweep in {root}"}
    raw = np.fromfile(files[0], dtype="<f4")
    if raw.size % 5:
        return {"skipped": f"{files[0].name}: not x, y, z, intensity, ring float32 records"}
    points = np.ascontiguousarray(raw.reshape(-1, 5)[:, :3])
    return {"file": files[0].name, "points": int(len(points)),
            "ours_candidates": len(detect_people(points)),
            "naive_single_frame_candidates": int(len(naive_single_frame(points))),
            "precision": None, "why_no_precision": "the shared sweep carries no annotations"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "lidar_real_frames.json")
    args = parser.parse_args(argv)
    root = shared_data_dir()
    if root is None:
        print("shared data not found: nothing to measure", file=sys.stderr)
        return 1
    result = {"kitti": kitti(root / "kitti") if (root / "kitti").is_dir() else {"skipped": "no kitti folder"},
              "nuscenes": nuscenes(root / "pointclouds_nuscenes")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
