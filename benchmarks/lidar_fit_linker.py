"""Fit the cross-sensor pair model (``cloud_sync/lidar/pair_model.json``) on the evaluation
matrix's *tuning* seeds only — the report seeds (``REPORT_BASE + cell``) are never read here.

    python benchmarks/lidar_fit_linker.py --cache /tmp/lidar-fit [--cells 4 5 9 ...]

Per tuning cell: render the scene, run our per-sensor pipeline, and take every cross-sensor
(exit, entry) pair the linker would consider (0 < gap ≤ max gap, transit NLL ≤ 6); the label
is whether the two segments are consecutive segments of one simulated person. A logistic
regression (L2, scikit-learn) over the cues of ``cloud_sync.lidar.pair_cues`` gives the
weights; a two-fold split by cell reports how well the weights carry over to unseen cells
(link F1 of the whole online linker, against the hand-set cost). Rendering dominates (~10–25
s CPU per cell); ``--cache`` keeps each cell's segments for refits.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lidar_matrix import TUNING_BASE, cells  # noqa: E402

from cloud_sync.lidar.global_tracks import evaluate_global, link_online  # noqa: E402
from cloud_sync.lidar.linking import GlobalLinker, LinkerConfig  # noqa: E402
from cloud_sync.lidar.pair_cues import CUES, DEFAULT_MODEL, PairModel, pair_cues  # noqa: E402
from edge_runtime.lidar.evaluation import true_links  # noqa: E402

# The cells fitted for the bundled model (18 of the 60 tuning cells: the CPU budget of the
# shared machine): every sensor model, the 2.2 m level mount, and the hard 3.5 m / 40-person cells.
DEFAULT_CELLS = (3, 4, 5, 8, 9, 11, 16, 17, 21, 27, 28, 30, 35, 40, 45, 47, 52, 57)
MAX_TRANSIT_NLL = 6.0


def tuning_run(cell: dict, duration_s: float, embedder, cache_dir: Path | None):
    """Our per-sensor pipeline over one tuning cell (segments carry their truth ids)."""
    from edge_runtime.lidar.pipeline import SensorPipeline
    from edge_runtime.lidar.scene_run import run_methods, simulated_frames
    from edge_runtime.lidar.synth_scene import WalkwaySimulator
    from edge_runtime.lidar.synth_variety import matrix_scene

    seed = TUNING_BASE + cell["index"]
    path = cache_dir / f"fit_cell{cell['index']:02d}_seed{seed}_{duration_s:g}s.pkl" if cache_dir else None
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())
    spec = matrix_scene(cell["model"], cell["height_m"], cell["tilt_deg"], cell["people"], seed, duration_s)
    run = run_methods(simulated_frames(WalkwaySimulator(spec)), spec.sensors,
                      {"ours": lambda s: SensorPipeline(s, embedder=embedder)})["ours"]
    run.tracks = {}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(run))
    return run


def candidate_pairs(run) -> tuple[np.ndarray, np.ndarray]:
    """Cue rows and labels of every cross-sensor pair the linker would weigh."""
    linker = GlobalLinker(LinkerConfig(), pair_model=None)
    segments = [s for s in run.segments if len(s.times) >= linker.config.min_frames]
    truth = true_links(run.segments)
    rows, labels = [], []
    for before in segments:
        for after in segments:
            if before.sensor_id == after.sensor_id:
                continue
            transit = _transit(linker, before, after)
            if transit is None or transit > MAX_TRANSIT_NLL:
                continue
            rows.append(pair_cues(before, after, transit, linker.config.height_sigma_m))
            labels.append((before.key, after.key) in truth)
    return np.array(rows).reshape(-1, len(CUES)), np.array(labels, dtype=bool)


def _transit(linker: GlobalLinker, before, after) -> float | None:
    """The transit cue exactly as ``GlobalLinker.pair_cost`` feeds it to the pair model
    (cross-sensor pairs: late arrivals capped at ``late_transit_cap_nll``; walked distance
    from ``transit_speed``)."""
    gap = after.t_start - before.t_end
    if gap <= 0 or gap > linker.config.max_gap_s:
        return None
    straight = float(np.linalg.norm(after.xy[0] - before.xy[-1]))
    late_cap = linker.config.late_transit_cap_nll if before.sensor_id != after.sensor_id else None
    return linker.transit.negative_log_likelihood(linker._zone_pair(before, after), gap,
                                                  linker._speed(before, after), straight, late_cap)


def fit(rows: np.ndarray, labels: np.ndarray, source: str) -> PairModel:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=5000).fit(rows, labels)
    return PairModel(tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]), source=source)


def link_f1(run, model: PairModel | None) -> dict:
    linker = link_online(run.segments, LinkerConfig(use_pair_model=model is not None), pair_model=model)
    report = evaluate_global(linker, run.times, run.world_truth, run.warmup_frames)
    return {"link_f1": report["links_all_segments"]["f1"], "global_idf1": report["global"]["idf1"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", nargs="+", type=int, default=list(DEFAULT_CELLS), help="tuning cell indices")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--cache", type=Path, metavar="DIR", help="keep each cell's segments here")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    from edge_runtime.lidar.embedding import PersonEmbedder

    embedder = PersonEmbedder()
    chosen = [c for c in cells() if c["index"] in set(args.cells)]
    runs = {}
    for n, cell in enumerate(chosen, 1):
        runs[cell["index"]] = tuning_run(cell, args.duration, embedder, args.cache)
        print(f"[{n}/{len(chosen)}] tuning cell {cell['index']} ({cell['model']} {cell['height_m']} m "
              f"{cell['tilt_deg']:g}° {cell['people']}p) rendered", file=sys.stderr, flush=True)
    pairs = {index: candidate_pairs(run) for index, run in runs.items()}
    # Two folds by cell: fit on one half, score linking on the other — weights must carry over.
    order = sorted(pairs)
    folds = (order[0::2], order[1::2])
    held_out = {"pair_model": [], "hand_set": []}
    for k, test in enumerate(folds):
        train = folds[1 - k]
        model = fit(np.concatenate([pairs[i][0] for i in train]), np.concatenate([pairs[i][1] for i in train]), "fold")
        for index in test:
            held_out["pair_model"].append(link_f1(runs[index], model)["link_f1"])
            held_out["hand_set"].append(link_f1(runs[index], None)["link_f1"])
    rows = np.concatenate([pairs[i][0] for i in order])
    labels = np.concatenate([pairs[i][1] for i in order])
    source = (f"benchmarks/lidar_fit_linker.py: tuning seeds {TUNING_BASE}+cell, cells {order}, "
              f"{len(rows)} candidate pairs ({int(labels.sum())} true links)")
    model = fit(rows, labels, source)
    summary = {name: {"mean": round(float(np.mean(v)), 4), "worst": round(float(np.min(v)), 4)}
               for name, v in held_out.items()}
    args.out.write_text(model.to_json(held_out_link_f1=summary) + "\n")
    print(dict(zip(CUES, np.round(model.weights, 3))), "bias", round(model.bias, 3))
    print("held-out link F1 (two folds by cell):", summary)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
