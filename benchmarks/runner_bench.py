"""Per-inference latency of one small model on LiteRT, ONNX Runtime and TFLite Micro, with PyTorch as peer.

    .venv/bin/python benchmarks/runner_bench.py [--runs 2000] [--rounds 5]

The model is the project's tiny MLP (edge_runtime/models/fixtures), exported from the
same PyTorch weights to .onnx and .tflite, so every backend computes the same function.
All run single-threaded (what a small board gives one task) and interleaved in rounds,
so load from other processes on this shared machine hits every backend alike. Two
latencies per backend: through the runner API (`run`: input checks included) and the
bare backend call (`_invoke`), so the runner's own overhead is visible. Ratios are
against PyTorch measured in the same run. JSON: benchmarks/results/runner_bench.json.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from edge_runtime.models import load_model
from edge_runtime.models.fixtures.make_fixture import HERE as FIXTURES, build_model, sample_input

RESULTS = Path(__file__).resolve().parent / "results" / "runner_bench.json"
# Real int8 models where kernels, not call overhead, dominate: LiteRT (XNNPACK) is the peer.
REAL_MODELS = ("ARM_DS_CNN_Small_.tflite", "Visual_Alarm_Clock.tflite")


def time_calls(fn, n: int) -> np.ndarray:
    """Seconds per call of fn(), n calls."""
    out = np.empty(n)
    for i in range(n):
        start = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - start
    return out


def build_contenders(x: np.ndarray) -> dict[str, dict]:
    """name -> {'api': fn, 'bare': fn, 'provider': str} for each backend and the PyTorch peer."""
    import torch

    torch.set_num_threads(1)
    model = build_model()
    tx = torch.from_numpy(x)

    def torch_call():
        with torch.inference_mode():
            return model(tx)

    contenders = {"pytorch": {"api": torch_call, "bare": torch_call, "provider": f"torch {torch.__version__} CPU"}}
    runners = {"litert": load_model(FIXTURES / "tiny_mlp.tflite", backend="litert", num_threads=1),
               "onnxruntime": load_model(FIXTURES / "tiny_mlp.onnx", intra_op_threads=1),
               "tflm": load_model(FIXTURES / "tiny_mlp.tflite", backend="tflm")}
    for name, runner in runners.items():
        reference = torch_call().numpy()
        got = runner.run(x)[0]
        if not np.allclose(got, reference, rtol=1e-4, atol=1e-5):
            raise SystemExit(f"{name} disagrees with PyTorch: max diff {np.abs(got - reference).max()}")
        prepared = [x]
        contenders[name] = {"api": (lambda r=runner: r.run(x, raw=True)),
                            "bare": (lambda r=runner: r._invoke(prepared)), "provider": runner.provider}
    return contenders


def real_model_rows(runs: int) -> dict[str, dict]:
    """LiteRT vs TFLite Micro p50 on real int8 models from the shared data (skipped when absent)."""
    from edge_runtime.data_paths import shared_data_dir

    root = shared_data_dir()
    if root is None:
        return {}
    rows = {}
    for name in REAL_MODELS:
        timings = {b: load_model(root / "tflite_models" / name, backend=b, **opts).timeit(runs)
                   for b, opts in (("litert", {"num_threads": 1}), ("tflm", {}))}
        rows[name] = {"litert_p50_ms": timings["litert"]["p50_ms"], "tflm_p50_ms": timings["tflm"]["p50_ms"],
                      "tflm_vs_litert": timings["tflm"]["p50_ms"] / timings["litert"]["p50_ms"]}
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000, help="timed inferences per backend (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    x = sample_input(0).numpy()
    contenders = build_contenders(x)
    per_round = max(1, args.runs // args.rounds)
    samples = {name: {"api": [], "bare": []} for name in contenders}
    for round_index in range(args.rounds):
        print(f"round {round_index + 1}/{args.rounds}", flush=True)
        for name, c in contenders.items():
            for kind in ("api", "bare"):
                time_calls(c[kind], 20)  # warm caches after the other backends ran
                samples[name][kind].append(time_calls(c[kind], per_round))
    results = {}
    for name, c in contenders.items():
        api_ms = np.concatenate(samples[name]["api"]) * 1e3
        bare_ms = np.concatenate(samples[name]["bare"]) * 1e3
        results[name] = {"provider": c["provider"], "n": int(api_ms.size),
                         "p50_ms": float(np.percentile(api_ms, 50)), "p95_ms": float(np.percentile(api_ms, 95)),
                         "bare_p50_ms": float(np.percentile(bare_ms, 50)),
                         "bare_p95_ms": float(np.percentile(bare_ms, 95))}
    peer = results["pytorch"]["p50_ms"]
    for r in results.values():
        r["p50_vs_pytorch"] = r["p50_ms"] / peer
    report = {"model": "tiny_mlp (16-32-32-4, float32, batch 1)", "threads": 1,
              "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
              "results": results, "real_int8_models": real_model_rows(max(20, args.runs // 40))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"{'backend':12s} {'p50 ms':>8s} {'p95 ms':>8s} {'bare p50':>9s} {'vs torch':>9s}  provider")
    for name, r in results.items():
        print(f"{name:12s} {r['p50_ms']:8.4f} {r['p95_ms']:8.4f} {r['bare_p50_ms']:9.4f} "
              f"{r['p50_vs_pytorch']:8.2f}x  {r['provider']}")
    for name, row in report["real_int8_models"].items():
        print(f"{name}: litert {row['litert_p50_ms']:.3f} ms, tflm {row['tflm_p50_ms']:.3f} ms "
              f"({row['tflm_vs_litert']:.1f}x)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
