"""LiDAR benchmark: accuracy on generated walkways and per-frame latency against a naive
open3d pipeline measured in the same run.

    python benchmarks/lidar_bench.py [--people 20 40] [--duration 60] [--out benchmarks/results/lidar_bench.json]

Accuracy (3 sensors, 10 Hz): per-sensor MOTA/IDF1, cross-sensor link precision/recall/F1,
global IDF1 — with the ablation time-only linking vs embedding + transit model.
Latency, one thread: the static-sensor path incl. tracking and embeddings on the simulated
frames, and the single-frame path on the KITTI frame (115k points), each against the naive
open3d pipeline (voxel grid + RANSAC plane + 3D DBSCAN) on the same frames. Both wall-clock
and CPU time per frame (``time.thread_time``: the calling thread; every library is pinned
to one thread) are recorded: on a shared, oversubscribed machine the wall clock
mostly measures waiting for a core, so the goals are judged on CPU time (one thread), and
the ratio to the peer is given for both.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")    # one core, for us and for the open3d peer alike

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cloud_sync.lidar.global_tracks import evaluate_run, link_online  # noqa: E402
from cloud_sync.lidar.linking import LinkerConfig  # noqa: E402
from edge_runtime.data_paths import shared_data_dir  # noqa: E402
from edge_runtime.lidar.detect import detect_people  # noqa: E402
from edge_runtime.lidar.embedding import PersonEmbedder  # noqa: E402
from edge_runtime.lidar.features import EMBEDDING_POINTS  # noqa: E402
from edge_runtime.lidar.scene_run import run_scene, simulated_frames  # noqa: E402
from edge_runtime.lidar.synth_scene import WalkwaySimulator, walkway_spec  # noqa: E402


def naive_open3d(points: np.ndarray, seed: int = 0) -> int:
    """The textbook pipeline: 0.1 m voxel grid, RANSAC plane, 3D DBSCAN; returns cluster count."""
    import open3d as o3d

    o3d.utility.random.seed(seed)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points[:, :3].astype(np.float64)))
    cloud = cloud.voxel_down_sample(0.1)
    _, inliers = cloud.segment_plane(distance_threshold=0.15, ransac_n=3, num_iterations=200)
    objects = cloud.select_by_index(inliers, invert=True)
    labels = np.asarray(objects.cluster_dbscan(eps=0.3, min_points=5))
    return int(labels.max() + 1) if labels.size else 0


def percentiles(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1e3
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3),
            "mean_ms": round(float(ms.mean()), 3), "n": int(len(ms))}


def timed(fn, repeats: int) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds) per call."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.thread_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - cpu_start)
    return wall, cpu


def both(times: tuple[list[float], list[float]]) -> dict:
    return {"wall": percentiles(times[0]), "cpu": percentiles(times[1])}


def ratios(peer: dict, ours: dict) -> dict:
    return {kind: round(peer[kind]["p50_ms"] / ours[kind]["p50_ms"], 2) for kind in ("wall", "cpu")}


def accuracy(people: int, duration: float, embedder, keep_frames: int = 0):
    from tqdm import tqdm

    spec = walkway_spec(people=people, duration_s=duration)
    simulator = WalkwaySimulator(spec)
    kept = []
    with tqdm(total=spec.n_frames, desc=f"{people} people", unit="frame", file=sys.stderr) as bar:
        def frames():
            for frame in simulated_frames(simulator, bar.update):
                if len(kept) < keep_frames and frame.index >= 30:
                    kept.append(frame.points[spec.sensors[1].sensor_id])
                yield frame
        run = run_scene(frames(), spec.sensors, embedder=embedder)
    result = {"people": people, "duration_s": duration, "sensors": len(spec.sensors),
              "frame_rate_hz": spec.frame_rate_hz, "segments": len(run.segments)}
    for name, appearance in (("time_only", False), ("embedding_transit", True)):
        linker = link_online(run.segments, LinkerConfig(use_appearance=appearance))
        report = evaluate_run(run, linker)
        result[name] = {"links": report["links"], "links_all_segments": report["links_all_segments"],
                        "global": report["global"],
                        "transit_model": linker.transit.to_dict() if appearance else None}
        result["per_sensor"] = report["sensors"]
    wall = [t for s in run.latency_s.values() for t in s[run.warmup_frames:]]
    cpu = [t for s in run.cpu_s.values() for t in s[run.warmup_frames:]]
    points = [n for s in run.points_per_frame.values() for n in s]
    result["static_path_latency"] = {**both((wall, cpu)), "points_per_frame_mean": int(np.mean(points))}
    return result, kept


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, nargs="+", default=[20, 40])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "lidar_bench.json")
    args = parser.parse_args(argv)
    embedder = PersonEmbedder()
    results = {"machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                           "threads": 1}, "scenes": []}
    kept_frames = []
    for people in args.people:
        scene, kept = accuracy(people, args.duration, embedder, keep_frames=args.repeats if not kept_frames else 0)
        kept_frames = kept_frames or kept
        results["scenes"].append(scene)
        print(json.dumps({k: scene[k] for k in ("people", "per_sensor", "time_only", "embedding_transit")}), flush=True)

    naive_static = both(timed(lambda it=iter(kept_frames * 2): naive_open3d(next(it)), len(kept_frames)))
    ours_static = results["scenes"][0]["static_path_latency"]
    results["static_sensor_latency"] = {
        "ours_incl_tracking_and_embedding": ours_static,
        "naive_open3d_single_frame": {**naive_static,
                                      "points_per_frame_mean": int(np.mean([len(f) for f in kept_frames]))},
        "speedup_p50": ratios(naive_static, ours_static),
        "goal": "≤ 10 ms per frame for ~30k points on one core (judged on CPU time, p95)",
        "goal_met": ours_static["cpu"]["p95_ms"] <= 10.0}

    sample = np.zeros((1, EMBEDDING_POINTS, 3), np.float32)
    sample[0, :, 2] = np.linspace(0, 1.7, EMBEDDING_POINTS)
    results["embedding_per_cluster"] = both(timed(lambda: embedder.embed(sample), 200))

    root = shared_data_dir()
    kitti = root / "kitti" / "velodyne" / "000000.bin" if root else None
    if kitti and kitti.exists():
        from edge_runtime.lidar.readers import read_points

        frame = read_points(kitti)
        ours = both(timed(lambda: detect_people(frame), args.repeats))
        naive = both(timed(lambda: naive_open3d(frame), max(5, args.repeats // 3)))
        results["kitti_frame"] = {"points": int(len(frame)), "ours_single_frame": ours, "naive_open3d": naive,
                                  "speedup_p50": ratios(naive, ours),
                                  "goal": "p95 ≤ 50 ms (judged on CPU time)",
                                  "goal_met": ours["cpu"]["p95_ms"] <= 50.0}
    else:
        results["kitti_frame"] = {"skipped": "shared data (kitti) not found"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(json.dumps({k: results[k] for k in ("static_sensor_latency", "embedding_per_cluster", "kitti_frame")}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
