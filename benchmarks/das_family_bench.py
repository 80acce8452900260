"""DAS traffic on the scene family: ours vs dasly, same scenes, same run, one core each.

    python benchmarks/das_family_bench.py [--set report|tuning] [--dasly /tmp/das-peer]
                                          [--seeds 2000,2001] [--out benchmarks/results/das_family.json]

For every seed of the chosen set (``scene_family.REPORT_SEEDS`` by default; parameters
were chosen on ``TUNING_SEEDS`` only), the scene is rendered once, in 10-s chunks, to a
raw float32 file; then

* ours: ``StreamingDetector`` fed the file's 10-s chunks in a subprocess pinned to one
  thread (the same worker as ``das_bench.py``);
* dasly (when ``--dasly`` names a folder holding ``dasly/`` (the checkout) and
  ``venv/`` (its interpreter), or a checkout whose interpreter is given by
  ``--dasly-python``): ``das_peer_dasly.py`` under dasly's interpreter, its deployed
  pipeline, see that file for the three adaptations.

Both are scored by ``evaluate.match`` with a 1-s gate (as in the issue) and 15 km/h, edges
of 2 s excluded. Reported per scene and as mean and worst: count F1, precision, recall,
speed MAE, car/truck balanced accuracy (ours only: dasly has no classifier), CPU seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GATE_S, EDGE_S = 1.0, 2.0


def render(seed: int, path: Path) -> dict:
    from edge_runtime.das.scene_family import FamilyScene
    scene = FamilyScene(seed)
    s = scene.spec
    with open(path, "wb") as f:
        for chunk in scene.chunks(10.0):
            f.write(chunk.tobytes())
    meta = {"fs": s.fs, "dx": s.dx, "n_channels": s.n_channels, "duration_s": s.duration_s,
            "minutes": s.duration_s / 60.0, "seed": seed, "truth": scene.truth(), "spec": s.to_dict()}
    Path(str(path) + ".json").write_text(json.dumps(meta, default=float))
    return meta


def run_ours(path: Path) -> dict:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "das_bench.py"), "--worker", "ours", "--file", str(path)]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_dasly(path: Path, checkout: Path, python: Path, timeout_s: float) -> dict:
    cmd = [str(python), str(ROOT / "benchmarks" / "das_peer_dasly.py"), "--dasly", str(checkout), "--file", str(path)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def score(meta: dict, vehicles: list[dict], classified: bool) -> dict:
    from edge_runtime.das.evaluate import match
    sc = match(meta["truth"], vehicles, tolerance_s=GATE_S, edge_s=EDGE_S, duration_s=meta["duration_s"])
    out = {"tp": sc.tp, "fp": sc.fp, "fn": sc.fn, "f1": round(sc.f1, 4),
           "precision": round(sc.tp / max(sc.tp + sc.fp, 1), 4), "recall": round(sc.tp / max(sc.tp + sc.fn, 1), 4),
           "speed_mae_kmh": round(sc.speed_mae, 3) if sc.speed_errors else None}
    if classified:
        out["balanced_accuracy"] = round(sc.balanced_accuracy(), 4)
    out["missed_groups"] = sorted({m["group"] for m in sc.missed})
    return out


def aggregate(rows: list[dict], key: str) -> dict:
    values = [r[key]["f1"] for r in rows if key in r and "f1" in r[key]]
    if not values:
        return {}
    worst = min(range(len(values)), key=lambda i: values[i])
    tp, fp, fn = (sum(r[key][k] for r in rows if key in r and "tp" in r[key]) for k in ("tp", "fp", "fn"))
    maes = [r[key]["speed_mae_kmh"] for r in rows if key in r and r[key].get("speed_mae_kmh") is not None]
    out = {"mean_f1": round(float(np.mean(values)), 4), "worst_f1": values[worst],
           "worst_seed": [r for r in rows if key in r and "f1" in r[key]][worst]["seed"],
           "pooled_f1": round(2 * tp / max(2 * tp + fp + fn, 1), 4), "mean_speed_mae_kmh": round(float(np.mean(maes)), 3),
           "cpu_s_total": round(sum(r[key]["cpu_s"] for r in rows if key in r and "cpu_s" in r[key]), 2)}
    bas = [r[key]["balanced_accuracy"] for r in rows if key in r and r[key].get("balanced_accuracy") is not None
           and np.isfinite(r[key]["balanced_accuracy"])]
    if bas:
        out["mean_balanced_accuracy"] = round(float(np.mean(bas)), 4)
    return out


def main(argv=None) -> int:
    from edge_runtime.das.scene_family import REPORT_SEEDS, TUNING_SEEDS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=["report", "tuning"], default="report")
    parser.add_argument("--seeds", help="comma-separated seeds (overrides --set)")
    parser.add_argument("--dasly", help="folder with dasly/ (checkout) and venv/ (its interpreter)")
    parser.add_argument("--dasly-python", help="dasly's interpreter, if not <--dasly>/venv/bin/python")
    parser.add_argument("--dasly-timeout", type=float, default=600.0)
    parser.add_argument("--scratch", default="/tmp/das_family_scene.f32")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "das_family.json"))
    parser.add_argument("--merge", nargs="+", metavar="PART.json",
                        help="combine runs over parts of the set (e.g. two processes) into --out")
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(
        REPORT_SEEDS if args.set == "report" else TUNING_SEEDS)
    checkout = python = None
    if args.dasly:
        base = Path(args.dasly)
        checkout = base / "dasly" if (base / "dasly" / "dasly").is_dir() else base
        python = Path(args.dasly_python) if args.dasly_python else base / "venv" / "bin" / "python"
        if not (checkout / "dasly" / "master.py").is_file() or not python.is_file():
            parser.error(f"--dasly {base}: expected {checkout}/dasly/master.py and interpreter {python}")
    scratch = Path(args.scratch)
    rows = []
    for i, seed in enumerate(seeds):
        t0 = time.time()
        meta = render(seed, scratch)
        row = {"seed": seed, "scene": {k: meta["spec"][k] for k in ("fs", "dx", "n_channels", "duration_s",
                                                                      "car_snr", "gauge_m", "cable_depth_m")},
               "vehicles": sum(0 <= v["t_center_s"] < meta["duration_s"] for v in meta["truth"])}
        ours = run_ours(scratch)
        row["ours"] = {**score(meta, ours["events"], True), "cpu_s": round(ours["cpu_s"], 3),
                       "x_real_time": round(ours["data_s"] / max(ours["cpu_s"], 1e-9), 1)}
        if checkout:
            peer = run_dasly(scratch, checkout, python, args.dasly_timeout)
            row["dasly"] = ({"error": peer["error"]} if "error" in peer else
                            {**score(meta, peer["vehicles"], False), "cpu_s": round(peer["cpu_s"], 3),
                             "x_real_time": round(peer["data_s"] / max(peer["cpu_s"], 1e-9), 1)})
            if "f1" in row["dasly"]:
                row["f1_above_dasly"] = row["ours"]["f1"] > row["dasly"]["f1"]
                row["speedup_vs_dasly"] = round(row["dasly"]["cpu_s"] / max(row["ours"]["cpu_s"], 1e-9), 1)
        rows.append(row)
        write_result(args, seeds, rows, checkout)        # after every scene: a long run keeps what it measured
        print(f"[{i + 1}/{len(seeds)}] seed {seed}: ours F1 {row['ours']['f1']:.3f}"
              + (f", dasly F1 {row['dasly'].get('f1', float('nan')):.3f}" if checkout else "")
              + f" ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    scratch.unlink(missing_ok=True)
    Path(str(scratch) + ".json").unlink(missing_ok=True)
    result = write_result(args, seeds, rows, checkout)
    print(json.dumps({k: result[k] for k in result if k != "scenes"}, indent=1, default=float))
    return 0


def merge(args: argparse.Namespace) -> int:
    """One result from parts: each seed's row from the first part that has it, in set order."""
    from edge_runtime.das.scene_family import REPORT_SEEDS, TUNING_SEEDS
    seeds = list(REPORT_SEEDS if args.set == "report" else TUNING_SEEDS)
    found: dict[int, dict] = {}
    for part in args.merge:
        for row in json.loads(Path(part).read_text())["scenes"]:
            found.setdefault(row["seed"], row)
    rows = [found[s] for s in seeds if s in found]
    has_peer = any("dasly" in r for r in rows)
    checkout = (Path(args.dasly) / "dasly" if args.dasly else Path("/nonexistent")) if has_peer else None
    result = write_result(args, seeds, rows, checkout)
    print(json.dumps({k: result[k] for k in result if k != "scenes"}, indent=1, default=float))
    return 0


def write_result(args: argparse.Namespace, seeds: list[int], rows: list[dict], checkout: Path | None) -> dict:
    result = {"benchmark": "das_scene_family", "set": args.set if not args.seeds else "custom", "seeds": seeds,
              "scenes_done": len(rows), "gate_s": GATE_S, "edge_s": EDGE_S,
              "machine": {"cpu_count": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 2)},
              "ours": aggregate(rows, "ours"), "dasly": aggregate(rows, "dasly") if checkout else None,
              "scenes": rows}
    if checkout:
        paired = [r for r in rows if "f1_above_dasly" in r]
        result["f1_above_dasly_on_every_scene"] = bool(paired) and all(r["f1_above_dasly"] for r in paired)
        result["dasly_ran_on"] = f"{len(paired)}/{len(rows)} scenes"
        if result["dasly"]:
            result["speedup_vs_dasly_cpu"] = round(result["dasly"]["cpu_s_total"] / max(result["ours"]["cpu_s_total"], 1e-9), 1)
        commit = (checkout / "COMMIT")
        result["dasly_commit"] = commit.read_text().strip() if commit.is_file() else None
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, default=float) + "\n")
    return result


if __name__ == "__main__":
    sys.exit(main())
