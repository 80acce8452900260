"""Scratch harness for choosing window-stage parameters on the scene family's tuning seeds.

    python benchmarks/das_tuning.py --build [--cache /tmp/das_tuning]      # once: envelope rows
    python benchmarks/das_tuning.py --params '{"join_dip": 0.8}'           # rerun the window stage

Rendering a family scene and running the full-rate front end takes most of a scene's
time; the window stage (everything in ``pipeline.detect_window``) is cheap. ``--build``
renders each tuning seed once (and its channel-shuffled copy, same permutation as the
test), runs ``EnvelopeStream`` over its 10-s chunks and stores the envelope rows; every
later run feeds those rows to a ``StreamingDetector`` whose front end is replaced by the
cache, so only parameters of the window stage (not of preprocessing) may be varied.
Refuses report seeds: the report set is for ``das_family_bench.py``, run once at the end.
Prints per seed F1 / FP / FN and the mean, worst and pooled figures, and the number of
vehicles found in the shuffled copies ("ghosts").
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GATE_S, EDGE_S = 1.0, 2.0


def build(seeds: list[int], cache: Path) -> None:
    from edge_runtime.das.params import DetectionParams
    from edge_runtime.das.preprocess import EnvelopeStream
    from edge_runtime.das.scene_family import FamilyScene
    cache.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        scene = FamilyScene(seed)
        s = scene.spec
        order = np.random.default_rng(0).permutation(s.n_channels)
        fronts = [EnvelopeStream(s.fs, s.dx, s.n_channels, DetectionParams()) for _ in range(2)]
        rows: list[list[np.ndarray]] = [[], []]
        for chunk in scene.chunks(10.0):
            rows[0].append(fronts[0].push(chunk))
            rows[1].append(fronts[1].push(np.ascontiguousarray(chunk[:, order])))
        np.savez(cache / f"{seed}.npz", rows=np.concatenate(rows[0]), shuffled=np.concatenate(rows[1]))
        (cache / f"{seed}.json").write_text(json.dumps(
            {"fs": s.fs, "dx": s.dx, "n_channels": s.n_channels, "duration_s": s.duration_s,
             "truth": scene.truth()}, default=float))
        print(f"seed {seed}: cached", file=sys.stderr, flush=True)


def detect_cached(rows: np.ndarray, meta: dict, params) -> list[dict]:
    from edge_runtime.das.streaming import StreamingDetector
    det = StreamingDetector(meta["fs"], meta["dx"], meta["n_channels"], params=params)
    det.front.push = lambda chunk: rows          # the cache stands in for the front end
    return det.push(np.zeros((1, meta["n_channels"]), dtype=np.float32)) + det.flush()


def evaluate(seeds: list[int], cache: Path, overrides: dict, verbose: bool) -> dict:
    from edge_runtime.das.evaluate import match
    from edge_runtime.das.params import DetectionParams
    params = DetectionParams.from_dict(overrides)
    rows_out = []
    for seed in seeds:
        meta = json.loads((cache / f"{seed}.json").read_text())
        data = np.load(cache / f"{seed}.npz")
        events = detect_cached(data["rows"], meta, params)
        ghosts = detect_cached(data["shuffled"], meta, params)
        sc = match(meta["truth"], events, tolerance_s=GATE_S, edge_s=EDGE_S, duration_s=meta["duration_s"])
        row = {"seed": seed, "f1": sc.f1, "tp": sc.tp, "fp": sc.fp, "fn": sc.fn, "mae": sc.speed_mae,
               "ba": sc.balanced_accuracy(), "ghosts": len(ghosts)}
        rows_out.append(row)
        if verbose:
            print(f"{seed}: F1 {sc.f1:.3f} tp {sc.tp} fp {sc.fp} fn {sc.fn} mae {sc.speed_mae:.2f} "
                  f"ba {row['ba']:.2f} ghosts {len(ghosts)}")
            for m in sc.missed:
                print(f"   miss {m['group']:9s} {m['cls']:5s} t {m['t_center_s']:6.2f} v {m['speed_kmh']:7.1f} "
                      f"amp {m['amplitude']:.2f}")
            for f in sc.false:
                print(f"   false t {f['t_center_s']:6.2f} v {f['speed_kmh']:7.1f} s {f['strength']:.2f}")
    f1 = [r["f1"] for r in rows_out]
    tp, fp, fn = (sum(r[k] for r in rows_out) for k in ("tp", "fp", "fn"))
    bas = [r["ba"] for r in rows_out if np.isfinite(r["ba"])]
    return {"mean_f1": round(float(np.mean(f1)), 4), "worst_f1": round(min(f1), 4),
            "pooled_f1": round(2 * tp / max(2 * tp + fp + fn, 1), 4), "fp": fp, "fn": fn,
            "mae": round(float(np.nanmean([r["mae"] for r in rows_out])), 3),
            "ba": round(float(np.mean(bas)), 4), "ghosts": sum(r["ghosts"] for r in rows_out)}


def tuning_seeds(parser: argparse.ArgumentParser, text: str | None) -> list[int]:
    """`--seeds a,b,c` (default: every tuning seed); report seeds are refused: they are measured
    once, by das_family_bench.py, after the parameters are chosen."""
    from edge_runtime.das.scene_family import REPORT_SEEDS, TUNING_SEEDS
    seeds = [int(s) for s in text.split(",")] if text else list(TUNING_SEEDS)
    if set(seeds) & set(REPORT_SEEDS):
        parser.error("report seeds are for das_family_bench.py only")
    return seeds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", default="/tmp/das_tuning")
    parser.add_argument("--seeds", help="comma-separated tuning seeds (default: all)")
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--params", default="{}", help="JSON overrides of DetectionParams")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    seeds = tuning_seeds(parser, args.seeds)
    if args.build:
        build(seeds, Path(args.cache))
        return 0
    print(json.dumps(evaluate(seeds, Path(args.cache), json.loads(args.params), args.verbose)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
