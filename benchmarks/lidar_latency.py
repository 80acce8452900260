"""Static-path latency per sensor frame for every catalogue sensor of the matrix, the project
against the naive prototype on the same frames (one thread, CPU time and wall time).

    python benchmarks/lidar_latency.py [--frames 100] [--people 20 40] [--out benchmarks/results/lidar_latency.json]

Goal (issue 18): p95 ≤ 10 ms per sensor frame on one core, judged on CPU time
(``time.thread_time``): on a shared, oversubscribed machine the wall clock mostly measures
waiting for a core. Ours includes tracking, features and the ONNX embedding; frames before the
background is learned are left out for both methods. The load average and the process's
niceness are recorded beside the figures: on a shared box CPU-time p95 moves with the load.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lidar_matrix import MODELS, REPORT_BASE  # noqa: E402
from lidar_naive_peer import NaiveRangeImagePipeline  # noqa: E402

MOUNTS = ((2.2, 0.0), (3.5, 10.0))


def percentiles(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1e3
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3),
            "n": int(len(ms))}


def time_method(pipeline, frames: list[np.ndarray]) -> dict:
    wall, cpu = [], []
    for i, points in enumerate(frames):
        start, cpu_start = time.perf_counter(), time.thread_time()
        pipeline.process(i * 0.1, points)
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - cpu_start)
    skip = pipeline.warmup_frames
    return {"cpu": percentiles(cpu[skip:]), "wall": percentiles(wall[skip:])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--people", type=int, nargs="+", default=[20, 40])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "lidar_latency.json")
    args = parser.parse_args(argv)
    from edge_runtime.lidar.embedding import PersonEmbedder
    from edge_runtime.lidar.pipeline import SensorPipeline
    from edge_runtime.lidar.synth_scene import WalkwaySimulator
    from edge_runtime.lidar.synth_variety import matrix_scene

    embedder = PersonEmbedder()
    rows = []
    load_start = os.getloadavg()
    for model, (height, tilt), people in ((m, mount, p) for p in args.people for m in MODELS for mount in MOUNTS):
        spec = matrix_scene(model, height, tilt, people, REPORT_BASE + 999, args.frames / 10)
        sensor = spec.sensors[1]
        frames = [f.sensors[sensor.sensor_id].points for f in WalkwaySimulator(spec).frames()]
        ours = time_method(SensorPipeline(sensor, embedder=embedder), frames)
        naive = time_method(NaiveRangeImagePipeline(sensor), frames)
        row = {"model": model, "height_m": height, "tilt_deg": tilt, "people": people,
               "points_per_frame": int(np.mean([len(f) for f in frames])), "ours": ours, "naive": naive,
               "naive_over_ours_p50_cpu": round(naive["cpu"]["p50_ms"] / ours["cpu"]["p50_ms"], 3),
               "goal_met": ours["cpu"]["p95_ms"] <= 10.0}
        rows.append(row)
        print(f"{model:8s} {height} m {tilt:4.0f}° {people}p {row['points_per_frame']:6d} pts  ours p95 "
              f"{ours['cpu']['p95_ms']:.2f} ms CPU  naive p95 {naive['cpu']['p95_ms']:.2f} ms", file=sys.stderr)
    result = {"benchmark": "lidar_latency", "goal": "static path p95 ≤ 10 ms CPU per sensor frame, one core",
              "threads": 1, "niceness": os.nice(0), "measured_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
              "load_average_1_5_15": {"start": [round(v, 2) for v in load_start],
                                      "end": [round(v, 2) for v in os.getloadavg()]},
              "cells": rows, "goal_met_all": all(r["goal_met"] for r in rows),
              "worst_p95_cpu_ms": max(r["ours"]["cpu"]["p95_ms"] for r in rows)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("goal_met_all", "worst_p95_cpu_ms")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
