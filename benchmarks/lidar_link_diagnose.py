"""Where do cross-sensor link errors come from? Tuning cells only (seeds 1000 + cell).

    python benchmarks/lidar_link_diagnose.py --cache DIR [--cells 9 21 ...] [--linker NAME]

Reuses ``lidar_fit_linker.tuning_run`` (and its ``--cache`` of per-sensor segments). Every
true cross-sensor link is put in one class — linked, *unreachable* (one side shorter than
the linker's ``min_frames``), *cost* (the true pair costs more than ``max_cost``: a cue
failure), *assignment* (affordable, but a rival took the slot) — and every wrong link is
classed as to another person, to the wrong segment of the right person (a same-sensor split
in between), or to a segment with no person. Transit gaps of missed links are binned, since
people who stop in the blind gap arrive late.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lidar_fit_linker import DEFAULT_CELLS, tuning_run  # noqa: E402
from lidar_matrix import cells  # noqa: E402

from cloud_sync.lidar.global_tracks import evaluate_global, link_online  # noqa: E402
from cloud_sync.lidar.linking import LinkerConfig  # noqa: E402
from edge_runtime.lidar.evaluation import true_links  # noqa: E402


def diagnose(run, config: LinkerConfig | None = None) -> dict:
    linker = link_online(run.segments, config)
    segs = linker.segments
    truth = true_links(run.segments)
    predicted = {(a, b) for a, b in linker.links if a[0] != b[0]}
    classes: Counter = Counter()
    gaps = {"hit": [], "miss": []}
    for a, b in truth:
        gap = segs[b].t_start - segs[a].t_end
        if (a, b) in predicted:
            classes["linked"] += 1
            gaps["hit"].append(gap)
            continue
        gaps["miss"].append(gap)
        short = min(len(segs[a].times), len(segs[b].times)) < linker.config.min_frames
        if short:
            classes["unreachable_short"] += 1
        elif linker.pair_cost(segs[a], segs[b]) > linker.config.max_cost:
            classes["cost_above_max"] += 1
        else:
            classes["lost_in_assignment"] += 1
    wrong: Counter = Counter()
    for a, b in predicted - truth:
        ta, tb = segs[a].truth_id, segs[b].truth_id
        wrong["to_no_person" if ta is None or tb is None else
              "wrong_segment_same_person" if ta == tb else "other_person"] += 1
    same_sensor_splits = sum(1 for chain in _chains(run.segments).values()
                             for x, y in zip(chain, chain[1:]) if x.sensor_id == y.sensor_id)
    report = evaluate_global(linker, run.times, run.world_truth, run.warmup_frames)
    return {"true_links": len(truth), "missed": dict(classes), "wrong": dict(wrong),
            "same_sensor_splits": same_sensor_splits,
            "short_segments": sum(len(s.times) < linker.config.min_frames for s in run.segments),
            "miss_gap_s": np.histogram(gaps["miss"], bins=(0, 2, 4, 8, 15, 30))[0].tolist(),
            "hit_gap_s": np.histogram(gaps["hit"], bins=(0, 2, 4, 8, 15, 30))[0].tolist(),
            "link_f1": report["links_all_segments"]["f1"], "global_idf1": report["global"]["idf1"]}


def _chains(segments) -> dict:
    out: dict = {}
    for s in segments:
        if s.truth_id is not None:
            out.setdefault(s.truth_id, []).append(s)
    return {k: sorted(v, key=lambda s: s.t_start) for k, v in out.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", nargs="+", type=int, default=list(DEFAULT_CELLS))
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    from edge_runtime.lidar.embedding import PersonEmbedder

    embedder = PersonEmbedder()
    results = []
    for cell in (c for c in cells() if c["index"] in set(args.cells)):
        row = {**cell, **diagnose(tuning_run(cell, 30.0, embedder, args.cache))}
        results.append(row)
        print(json.dumps(row), flush=True)
    total = Counter()
    for r in results:
        total.update(r["missed"]); total.update({f"wrong_{k}": v for k, v in r["wrong"].items()})
        total.update({"true_links": r["true_links"], "same_sensor_splits": r["same_sensor_splits"]})
    summary = {"totals": dict(total), "link_f1_mean": round(float(np.mean([r["link_f1"] for r in results])), 4),
               "link_f1_worst": min(r["link_f1"] for r in results)}
    print(json.dumps(summary))
    if args.out:
        args.out.write_text(json.dumps({"split": "tuning", "summary": summary, "cells": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
