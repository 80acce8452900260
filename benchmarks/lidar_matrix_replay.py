"""The matrix's report run on recorded detections (issue 18): the same figures as
``lidar_matrix.py`` for any tracker setting, with the naive prototype on the same frames.

    python benchmarks/lidar_matrix_replay.py --cache DIR --record-only      # render + detect, once
    python benchmarks/lidar_matrix_replay.py --cache DIR [--set KEY=VALUE ...] [--baseline-set ...]

Rendering and detection are most of a cell's cost and do not depend on the tracker, so each
report cell is rendered once (``lidar_tracker_replay.record`` with ``split="report"``: our
detections per sensor frame with their CPU time, the truth, and the naive prototype run on
those same frames and scored in that pass). The report run then replays tracking, features,
embeddings and the cloud linker for the chosen setting (``--set``) and, on the same
detections, for the setting before it (``--baseline-set``, the ``tracker_before`` column;
``linker.KEY=VALUE`` sets the cloud linker's ``LinkerConfig``, ``linker.KEY=none`` unsets it),
and writes a ``lidar_matrix.py``-shaped JSON that ``lidar_report.py`` turns into
docs/lidar-matrix.md. The static-path time per sensor frame is detection (recorded) plus
tracking (replayed) CPU time on one thread. Parameters are chosen on tuning seeds only
(``lidar_tracker_replay.py``); the recording prints nothing of our scores.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lidar_matrix import GOALS, TUNING_BASE, REPORT_BASE, cells, goals, interleaved, linker_description, score, summarise  # noqa: E402,E501
from lidar_tracker_replay import KEYS, parse_overrides, record, replay  # noqa: E402

from cloud_sync.lidar.linking import LinkerConfig  # noqa: E402

from cloud_sync.lidar.global_tracks import evaluate_global, link_online  # noqa: E402
from edge_runtime.lidar.config import PipelineConfig  # noqa: E402


def cpu_ms(per_sensor: dict, skip: int) -> dict:
    values = np.array([t for frames in per_sensor.values() for t in frames[skip:]]) * 1e3
    return {"p50": round(float(np.percentile(values, 50)), 3), "p95": round(float(np.percentile(values, 95)), 3)}


def setting(pairs: list[str]) -> tuple[PipelineConfig, LinkerConfig]:
    """``--set`` / ``--baseline-set`` → the per-sensor config and the cloud linker's config."""
    overrides = parse_overrides(pairs)
    defaults, changed = LinkerConfig(), {}
    for key, value in overrides.pop("linker", {}).items():
        if not hasattr(defaults, key):
            raise ValueError(f"unknown linker key {key!r}")
        default = getattr(defaults, key)
        changed[key] = (None if str(value).lower() == "none" else
                        float(value) if default is None else type(default)(value))
    return PipelineConfig.from_dict(overrides), replace(defaults, **changed)   # validated as built


def report_row(cached: dict, config: PipelineConfig, baseline: PipelineConfig, embedder,
               linker: LinkerConfig | None = None, baseline_linker: LinkerConfig | None = None) -> dict:
    """One cell in ``lidar_matrix.run_cell``'s shape, from its recording."""
    started = time.process_time()
    run = replay(cached, config, embedder)
    ours = score(run, link_online(run.segments, linker), cached["sensors"])
    hand_set = evaluate_global(link_online(run.segments, pair_model=None), run.times, run.world_truth,
                               run.warmup_frames)
    ours["hand_set_linker"] = {"link_f1": hand_set["links_all_segments"]["f1"],
                               "global_idf1": hand_set["global"]["idf1"]}
    before_run = run if asdict(baseline) == asdict(config) else replay(cached, baseline, embedder)
    before = score(before_run, link_online(before_run.segments, baseline_linker), cached["sensors"])
    ours["tracker_before"] = {k: before[k] for k in KEYS}
    total = {s: np.add(cached["detect_cpu_s"][s], run.cpu_s[s]).tolist() for s in run.cpu_s}
    ours["static_path_cpu_ms"] = cpu_ms(total, run.warmup_frames)
    naive = dict(cached["naive_full"])
    naive["static_path_cpu_ms"] = cpu_ms(cached["naive_cpu_s"], run.warmup_frames)
    cell = cached["cell"]
    return {**cell, "seed": cached["seed"], "split": "report", "duration_s": cached["duration_s"],
            "points_per_frame": cached["points_per_frame"], "ours": ours, "naive": naive,
            "goals_met": goals(cell, ours, naive), "replay_cpu_s": round(time.process_time() - started, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--cells", nargs="+", type=int, help="cell indices (default: all 60)")
    parser.add_argument("--record-only", action="store_true", help="render and record the report cells, score nothing")
    parser.add_argument("--set", nargs="*", default=[], metavar="SECTION.KEY=VALUE", help="setting of this run")
    parser.add_argument("--baseline-set", nargs="*", default=[], metavar="SECTION.KEY=VALUE",
                        help="setting before this run's change (tracker_before column)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "lidar_matrix_report.json")
    args = parser.parse_args(argv)
    from edge_runtime.lidar.embedding import PersonEmbedder

    embedder = PersonEmbedder()
    chosen = interleaved([c for c in cells() if args.cells is None or c["index"] in set(args.cells)])
    if args.record_only:
        for n, cell in enumerate(chosen, 1):
            started = time.process_time()
            record(cell, args.duration, embedder, args.cache, split="report")
            print(f"[{n}/{len(chosen)}] recorded report cell {cell['index']} ({time.process_time() - started:.0f} s CPU)",
                  file=sys.stderr, flush=True)
        return 0
    (config, linker), (baseline, baseline_linker) = setting(args.set), setting(args.baseline_set)
    results = []
    for cell in chosen:
        cached = record(cell, args.duration, embedder, args.cache, split="report")
        cached.setdefault("duration_s", args.duration)
        row = report_row(cached, config, baseline, embedder, linker, baseline_linker)
        results.append(row)
        o, p = row["ours"], row["naive"]
        print(f"{cell['model']:8s} {cell['height_m']}m {cell['tilt_deg']:4.0f}° {cell['people']}p  ours "
              + " ".join(f"{o[k]:.3f}" for k in KEYS) + " | naive " + " ".join(f"{p[k]:.3f}" for k in KEYS)
              + " | before " + " ".join(f"{o['tracker_before'][k]:.3f}" for k in KEYS)
              + f"  p95 {o['static_path_cpu_ms']['p95']:.1f} ms", file=sys.stderr, flush=True)
    document = {"benchmark": "lidar_matrix", "split": "report", "duration_s": args.duration,
                "linker": linker_description(), "method": "lidar_matrix_replay.py (recorded detections)",
                "setting": args.set or "defaults", "baseline_setting": args.baseline_set or "defaults",
                "tracker": asdict(config.tracker), "tracker_before": asdict(baseline.tracker),
                "linker_config": asdict(linker), "linker_before": asdict(baseline_linker),
                "seed_rule": {"tuning": f"{TUNING_BASE} + cell index", "report": f"{REPORT_BASE} + cell index"},
                "goals": GOALS, "summary": summarise(sorted(results, key=lambda r: r["index"])),
                "cells": sorted(results, key=lambda r: r["index"])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=1))
    print(json.dumps(document["summary"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
