"""Where each missed vehicle of the tuning seeds is lost in the window stage (scratch harness).

    python benchmarks/das_tuning.py --build --seeds 1032,1033        # cache envelope rows first
    python benchmarks/das_miss_trace.py --seeds 1032,1033 [--params '{"split_dip": 0.7}']

For every miss of ``das_tuning.py``'s scoring, the window whose core holds the true
``t_center`` is rerun step by step (``pipeline.line_candidates`` unrolled) and the first
step that no longer has a detection near the truth (0.5 s, 15 % slowness) is named:
``no_line`` (no Hough line within 0.5 s; ``(line<2.6s)`` when one is within 2.6 s, a close
pair's partner), ``no_split_peak``, ``fit_reject``, ``coverage``, ``truck_merge/dedupe``,
``join``, ``contrast``, or ``found_in_window`` (the window finds it; lost to the streaming
core / id logic or the scoring gate). Report seeds are refused (``das_tuning.tuning_seeds``).
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _near(dets, t: float, s: float, tol: float = 0.5) -> list:
    return [d for d in dets if np.sign(d.slowness) == np.sign(s) and abs(d.t_center - t) < tol
            and abs(d.slowness - s) < 0.15 * abs(s)]


def trace_window(rows: np.ndarray, meta: dict, params, t: float, s: float) -> str:
    """The step that loses the vehicle at (t, slowness s) in the window whose core holds t."""
    from edge_runtime.das import pipeline as P
    from edge_runtime.das.cancel import contrast_gate
    from edge_runtime.das.lines import normalise_columns
    from edge_runtime.das.streaming import StreamingDetector
    from edge_runtime.das.suppress import join_undipped
    from edge_runtime.das.vehicles import dedupe, fit_line, merge_truck_parts, split_line
    det = StreamingDetector(meta["fs"], meta["dx"], meta["n_channels"], params=params)
    g = det.front.geometry
    half = (det.window_rows - det.hop_rows) / 2 / g.out_fs
    k = max(0, int(np.floor((t - det.row_time0 - half) / (det.hop_rows / g.out_fs))))
    last = max(0, int(np.ceil((len(rows) - det.window_rows) / det.hop_rows)))   # the flush window
    start = min(k, last) * det.hop_rows
    local = rows[start:start + det.window_rows]
    axes = P.window_axes(g, det.row_time0 + start / g.out_fs)
    images = [normalise_columns(local[:, b, :]) for b in range(3)]
    alive = images[0][1]
    w = np.asarray(params.detect_weights, dtype=np.float32)
    z = np.ascontiguousarray(sum(wi * im for wi, (im, _) in zip(w, images) if wi > 0) / w.sum(), dtype=np.float32)
    lines = P.candidate_lines(z, axes, params)
    same = [ln for ln in lines if np.sign(ln[1]) == np.sign(s)]
    if not any(abs(ln[0] - t) < 0.5 for ln in same):
        return "no_line" + ("(line<2.6s)" if any(abs(ln[0] - t) < 2.6 for ln in same) else "")
    cands = dedupe([d for tc, sl, *_ in lines for d in split_line(z, axes, alive, tc, sl, params)], params)
    if not _near(cands, t, s):
        return "no_split_peak"
    array_m = axes.bin_dx * z.shape[1]
    runs = {"min_run_m": min(params.min_run_m, params.min_run_fraction * array_m),
            "min_run_partial_m": min(params.min_run_partial_m, params.min_run_fraction * array_m)}
    refined, failed, thin = [], [], []
    for d in cands:
        gaps = [abs(o.t_center - d.t_center) for o in cands if o is not d and o.direction == d.direction]
        fitted = fit_line(z, axes, alive, d, min([params.pick_halfwidth_s] + [0.5 * x for x in gaps]),
                          max_scatter_s=params.max_pick_scatter_s, **runs)
        (failed if fitted is None else thin if fitted.coverage < params.min_coverage else refined).append(
            d if fitted is None else fitted)
    if not _near(refined, t, s):
        return "coverage" if _near(thin, t, s) else "fit_reject"
    merged = merge_truck_parts(dedupe(refined, params), params)
    if not _near(merged, t, s):
        return "truck_merge/dedupe"
    joined = join_undipped(z, axes, alive, merged, params)
    if not _near(joined, t, s):
        return "join"
    if not _near(contrast_gate(z, axes, alive, joined, params), t, s):
        return "contrast"
    return "found_in_window"


def main(argv=None) -> int:
    from das_tuning import EDGE_S, GATE_S, detect_cached, tuning_seeds
    from edge_runtime.das.evaluate import match
    from edge_runtime.das.lines import KMH
    from edge_runtime.das.params import DetectionParams
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", default="/tmp/das_tuning")
    parser.add_argument("--seeds", help="comma-separated tuning seeds (default: all)")
    parser.add_argument("--params", default="{}", help="JSON overrides of DetectionParams")
    args = parser.parse_args(argv)
    params = DetectionParams.from_dict(json.loads(args.params))
    stages: collections.Counter = collections.Counter()
    for seed in tuning_seeds(parser, args.seeds):
        meta = json.loads((Path(args.cache) / f"{seed}.json").read_text())
        rows = np.load(Path(args.cache) / f"{seed}.npz")["rows"]
        sc = match(meta["truth"], detect_cached(rows, meta, params), tolerance_s=GATE_S, edge_s=EDGE_S,
                   duration_s=meta["duration_s"])
        print(f"{seed}: F1 {sc.f1:.3f} tp {sc.tp} fp {sc.fp} fn {sc.fn}", flush=True)
        for m in sc.missed:
            stage = trace_window(rows, meta, params, m["t_center_s"], KMH / m["speed_kmh"])
            stages[stage] += 1
            print(f"   miss {stage:20s} {m['group']:9s} {m['cls']:5s} v {m['speed_kmh']:7.1f} amp {m['amplitude']:.2f}")
    print(json.dumps(dict(stages.most_common())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
