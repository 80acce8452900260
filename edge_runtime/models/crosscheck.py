"""Run one `.tflite` file on LiteRT and on TFLite Micro and say whether they agree.

Why: a model that passes on a PC (LiteRT, XNNPACK) may not run on an MCU (TFLite
Micro lacks hybrid kernels, some ops, dynamic shapes), and when it runs the two kernel
sets round differently. The check feeds both the same seeded input in the model's own
dtype and compares raw outputs: quantised outputs may differ by at most
``max_steps`` quantisation steps, float outputs by a small relative tolerance.

    python -m edge_runtime.models.crosscheck ../shared/data/tflite_models --json report.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.models.load import load_model
from edge_runtime.models.specs import ModelError

FLOAT_RTOL = 1e-3   # of the output's largest magnitude
FLOAT_ATOL = 1e-5


def _open(path: Path, backend: str) -> tuple[Any, dict[str, Any]]:
    try:
        runner = load_model(path, backend=backend)
        return runner, {"ok": True, "provider": runner.provider}
    except ModelError as exc:
        return None, {"ok": False, "reason": str(exc).replace(f"{path}: ", "")}


def _difference(a: np.ndarray, b: np.ndarray, step: float | None, max_steps: int) -> tuple[float, float, str]:
    """(difference, tolerance, unit): quantisation steps for integer outputs, else absolute.

    A float output dequantised from int8 inside the model (``step`` = that scale) may
    differ by ``max_steps`` of it; a truly float output by a small relative tolerance.
    """
    if np.issubdtype(a.dtype, np.integer):
        return float(np.abs(a.astype(np.int64) - b.astype(np.int64)).max()), float(max_steps), "steps"
    diff = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
    tolerance = FLOAT_ATOL + FLOAT_RTOL * (float(np.abs(a).max()) if a.size else 0.0)
    if step:
        tolerance = max(tolerance, max_steps * step * (1 + 1e-6))
    return diff, tolerance, "abs"


def crosscheck(path: str | Path, seed: int = 0, max_steps: int = 2) -> dict[str, Any]:
    """One model, both backends: what ran, why not, and how far apart the outputs are."""
    path = Path(path)
    lite, lite_info = _open(path, "litert")
    micro, micro_info = _open(path, "tflm")
    report: dict[str, Any] = {"model": path.name, "size_bytes": path.stat().st_size,
                              "litert": lite_info, "tflm": micro_info, "agree": None}
    reference = lite or micro
    if reference is None:
        return report
    report["inputs"] = [s.to_dict() for s in reference.inputs]
    x = reference.random_inputs(seed=seed)
    outputs = {}
    for name, runner, info in (("litert", lite, lite_info), ("tflm", micro, micro_info)):
        if runner is None:
            continue
        try:
            outputs[name] = runner.run(x, raw=True)
        except ModelError as exc:
            info.update(ok=False, reason=str(exc).replace(f"{path}: ", ""))
            continue
        info["latency"] = runner.timeit(5, x=x, warmup=1)
        if name == "tflm":
            info["arena_bytes"] = runner.arena_used_bytes()
    if len(outputs) == 2:
        diffs = [_difference(a, b, step, max_steps) for a, b, step in
                 zip(outputs["litert"], outputs["tflm"], lite.dequantize_steps())]
        report["max_difference"] = max(d for d, _, _ in diffs)
        report["tolerance"] = min(tol for _, tol, _ in diffs)
        report["difference_unit"] = diffs[0][2]
        report["agree"] = all(d <= tol for d, tol, _ in diffs)
    return report


def format_table(reports: list[dict[str, Any]]) -> str:
    """A fixed-width table for people: one model a row, each backend's verdict."""
    lines = [f"{'model':44s} {'KiB':>6s} {'litert':>7s} {'tflm':>7s} {'arena':>8s} {'diff':>10s}  agree / reason"]
    for r in reports:
        lite, micro = r["litert"], r["tflm"]
        diff = f"{r['max_difference']:.3g} {r['difference_unit']}" if "max_difference" in r else "-"
        verdict = {True: "yes", False: "NO", None: "-"}[r["agree"]]
        reason = "; ".join(f"{name}: {info['reason'][:90]}" for name, info in
                           (("litert", lite), ("tflm", micro)) if not info["ok"])
        lines.append(f"{r['model']:44s} {r['size_bytes'] / 1024:6.1f} {'ok' if lite['ok'] else 'FAIL':>7s} "
                     f"{'ok' if micro['ok'] else 'FAIL':>7s} {micro.get('arena_bytes', '-')!s:>8s} "
                     f"{diff:>10s}  {verdict} {reason}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="folder of .tflite files")
    parser.add_argument("--json", type=Path, help="also write the reports here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    files = sorted(args.folder.glob("*.tflite"))
    if not files:
        print(f"no .tflite files in {args.folder}", file=sys.stderr)
        return 2
    reports = []
    for i, path in enumerate(files, 1):
        print(f"[{i}/{len(files)}] {path.name}", file=sys.stderr)
        reports.append(crosscheck(path, seed=args.seed))
    print(format_table(reports))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"seed": args.seed, "models": reports}, indent=2))
    return 0 if all(r["agree"] is not False for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
