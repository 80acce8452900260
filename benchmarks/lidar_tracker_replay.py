"""Per-sensor identity errors on the matrix's *tuning* cells, with the tracker replayed on
recorded detections (issue 18).

    python benchmarks/lidar_tracker_replay.py --cache DIR --cells 5 9 21 ... [--tracker KEY=VALUE ...]

Rendering and detection dominate a cell's cost and do not change when the tracker does, so
each tuning cell is rendered once: our detections per sensor frame, the per-frame truth and
the naive prototype's scores (run on the same frames in that same pass) are pickled under
``--cache``. Every later run replays only tracking, features, embeddings and the cloud
linker, then scores per-sensor MOTA / IDF1, link F1 and global IDF1 against the peer, and
counts identity errors: segments that follow more than one person (swaps) and segments of
one person on one sensor that overlap in time (duplicates). Report seeds are never read.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import pickle
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lidar_matrix import REPORT_BASE, TUNING_BASE, cells, score  # noqa: E402
from lidar_naive_peer import NaiveLinker, NaiveRangeImagePipeline  # noqa: E402

from cloud_sync.lidar.global_tracks import link_online  # noqa: E402
from edge_runtime.lidar.config import PipelineConfig  # noqa: E402
from edge_runtime.lidar.evaluation import FrameTruth  # noqa: E402
from edge_runtime.lidar.pipeline import FrameOutput, SensorPipeline  # noqa: E402
from edge_runtime.lidar.scene_run import SceneRun  # noqa: E402

KEYS = ("mota", "idf1", "link_f1", "global_idf1")


class _Recorder:
    """Our pipeline, keeping each frame's detections (``None`` while warming up) and the CPU
    time of detecting them (one thread), so a replay can add its own tracking time."""

    def __init__(self, sensor, embedder):
        self.pipeline = SensorPipeline(sensor, embedder=embedder)
        self.detections: list = []
        self.detect_cpu_s: list[float] = []
        self.warmup_frames = self.pipeline.warmup_frames

    def process(self, t, points):
        started = time.thread_time()
        detections = self.pipeline.detect(points)
        self.detect_cpu_s.append(time.thread_time() - started)
        self.detections.append(detections)
        return FrameOutput(t) if detections is None else self.pipeline.track(t, detections)

    def finish(self):
        return self.pipeline.finish()


def record(cell: dict, duration_s: float, embedder, cache_dir: Path, split: str = "tuning") -> dict:
    """Render a cell once (cached): detections, truth, ground, peer scores. ``split="report"``
    is for the report run only (``lidar_matrix_replay.py``): its recording scores nothing of
    ours that anyone reads before the final replay."""
    from edge_runtime.lidar.scene_run import run_methods, simulated_frames
    from edge_runtime.lidar.synth_scene import WalkwaySimulator
    from edge_runtime.lidar.synth_variety import matrix_scene

    seed = (TUNING_BASE if split == "tuning" else REPORT_BASE) + cell["index"]
    prefix = "replay" if split == "tuning" else "report"
    path = cache_dir / f"{prefix}_cell{cell['index']:02d}_seed{seed}_{duration_s:g}s.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    spec = matrix_scene(cell["model"], cell["height_m"], cell["tilt_deg"], cell["people"], seed, duration_s)
    recorders = {}

    def ours(sensor):
        recorders[sensor.sensor_id] = _Recorder(sensor, embedder)
        return recorders[sensor.sensor_id]

    runs = run_methods(simulated_frames(WalkwaySimulator(spec)), spec.sensors,
                       {"ours": ours, "naive": NaiveRangeImagePipeline})
    naive = score(runs["naive"], NaiveLinker().link(runs["naive"].segments), spec.sensors)
    direct = score(runs["ours"], link_online(runs["ours"].segments), spec.sensors)
    truth = {s: [FrameTruth(f.people, f.ignored) for f in frames] for s, frames in runs["ours"].truth.items()}
    cached = {"cell": cell, "seed": seed, "duration_s": duration_s, "sensors": spec.sensors, "times": runs["ours"].times,
              "warmup_frames": runs["ours"].warmup_frames, "truth": truth, "world_truth": runs["ours"].world_truth,
              "detections": {s: r.detections for s, r in recorders.items()},
              "ground": {s: r.pipeline.ground for s, r in recorders.items()},
              "naive": {k: naive[k] for k in KEYS},
              "ours_recorded": {k: direct[k] for k in KEYS},     # replay with defaults must match
              "detect_cpu_s": {s: r.detect_cpu_s for s, r in recorders.items()},
              "naive_full": {k: v for k, v in naive.items() if k != "per_sensor"},
              "naive_cpu_s": runs["naive"].cpu_s,
              "points_per_frame": int(np.mean([n for s in runs["ours"].points_per_frame.values() for n in s]))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(cached))
    return cached


def replay(cached: dict, config: PipelineConfig, embedder) -> SceneRun:
    """Tracking onwards on the recorded detections: the same outputs ``process`` would give;
    ``run.cpu_s`` holds each frame's tracking CPU time (one thread)."""
    pipelines = {}
    for sensor in cached["sensors"]:
        pipeline = SensorPipeline(sensor, config, embedder)
        pipeline.ground = cached["ground"][sensor.sensor_id]
        pipelines[sensor.sensor_id] = pipeline
    run = SceneRun(cached["sensors"], times=list(cached["times"]), truth={s: [] for s in pipelines},
                   world_truth=cached["world_truth"], warmup_frames=cached["warmup_frames"],
                   cpu_s={s: [] for s in pipelines})
    for i, t in enumerate(cached["times"]):
        for sensor_id, pipeline in pipelines.items():
            detections = cached["detections"][sensor_id][i]
            started = time.thread_time()
            output = FrameOutput(t) if detections is None else pipeline.track(t, detections)
            run.cpu_s[sensor_id].append(time.thread_time() - started)
            run.segments.extend(output.finished)
            frame = cached["truth"][sensor_id][i]
            run.truth[sensor_id].append(FrameTruth(frame.people, frame.ignored,
                                                   {int(tr["id"]): (tr["x"], tr["y"]) for tr in output.tracks}))
    for pipeline in pipelines.values():
        run.segments.extend(pipeline.finish())
    run.assign_segment_truth()
    return run


def identity_errors(run: SceneRun) -> dict:
    """Swaps (a segment whose frames follow more than one person, each for ≥ 5 frames) and
    duplicates (two segments of one person on one sensor overlapping in time)."""
    truth_at = {round(t, 3): frame.people for t, frame in zip(run.times, run.world_truth)}
    swaps = 0
    for segment in run.segments:
        votes: Counter = Counter()
        for t, xy in zip(segment.times, segment.xy):
            people = truth_at.get(round(float(t), 3), {})
            if people:
                ids = list(people)
                d = np.linalg.norm(np.array([people[k] for k in ids]) - xy, axis=1)
                if d.min() <= 1.0:
                    votes[ids[int(np.argmin(d))]] += 1
        swaps += sum(1 for _, n in votes.most_common()[1:] if n >= 5) > 0
    by_owner = defaultdict(list)
    for segment in run.segments:
        if segment.truth_id is not None:
            by_owner[(segment.truth_id, segment.sensor_id)].append(segment)
    overlaps = 0
    for chain in by_owner.values():
        chain.sort(key=lambda s: s.t_start)
        overlaps += sum(b.t_start < a.t_end for a, b in zip(chain, chain[1:]))
    return {"segments": len(run.segments), "swapped_segments": swaps, "overlapping_same_person": overlaps}


def evaluate(cached: dict, config: PipelineConfig, embedder) -> dict:
    run = replay(cached, config, embedder)
    ours = score(run, link_online(run.segments), cached["sensors"])
    id_switches = sum(m["id_switches"] for m in ours["per_sensor"].values())
    return {**{k: cached["cell"][k] for k in ("index", "model", "height_m", "tilt_deg", "people")},
            "ours": {k: ours[k] for k in KEYS}, "naive": cached["naive"],
            "ours_idf1_worst_sensor": ours["idf1_worst_sensor"], "id_switches": id_switches,
            "segments_per_person_sensor": ours["segments_per_person_sensor"], **identity_errors(run)}


def summarise(rows: list[dict]) -> dict:
    out = {}
    for method in ("ours", "naive"):
        out[method] = {}
        for key in KEYS:
            values = [r[method][key] for r in rows if not np.isnan(r[method][key])]
            out[method][key] = {"mean": round(float(np.mean(values)), 4), "worst": round(float(np.min(values)), 4)}
    out["above_peer_cells"] = sum(all(r["ours"][k] > r["naive"][k] for k in KEYS
                                      if not np.isnan(r["ours"][k])) for r in rows)
    for key in ("id_switches", "swapped_segments", "overlapping_same_person", "segments"):
        out[key] = sum(r[key] for r in rows)
    out["cells"] = len(rows)
    return out


def parse_overrides(pairs: list[str]) -> dict:
    """``tracker.KEY=VALUE`` (or ``KEY=VALUE`` for the tracker section) → ``from_dict`` input."""
    nested: dict = defaultdict(dict)
    for pair in pairs:
        key, value = pair.split("=", 1)
        section, name = key.split(".", 1) if "." in key else ("tracker", key)
        nested[section][name] = value if not value.replace(".", "", 1).lstrip("-").isdigit() else float(value)
    return dict(nested)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", nargs="+", type=int, required=True, help="tuning cell indices")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--set", nargs="*", default=[], metavar="SECTION.KEY=VALUE", help="config overrides")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    from edge_runtime.lidar.embedding import PersonEmbedder

    embedder = PersonEmbedder()
    config = PipelineConfig.from_dict(parse_overrides(args.set))
    rows = []
    for cell in (c for c in cells() if c["index"] in set(args.cells)):
        row = evaluate(record(cell, args.duration, embedder, args.cache), config, embedder)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    summary = summarise(rows)
    print(json.dumps({"config": args.set, "summary": summary}))
    if args.out:
        args.out.write_text(json.dumps({"split": "tuning", "config": args.set, "summary": summary, "cells": rows},
                                       indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
