"""What one Python environment can do with the device stack: import numpy, onnxruntime and
LiteRT, and run the tiny fixture models through edge-runtime's own runners.

Run twice by ``arm64_root_check``: inside the emulated arm64 root (the Pi bundle's venv) and
on the host, so the arm64 outputs are checked against an x86 reference on the same input
instead of against numbers typed into a test. Prints one JSON object on stdout.

    python arm64_probe.py MODEL.tflite MODEL.onnx [--runs 20]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

IMPORTS = ("numpy", "onnxruntime", "ai_edge_litert.interpreter")


def timed_imports() -> dict[str, dict]:
    """Seconds per first import (in this order: later ones reuse numpy) and the version found."""
    import importlib
    found = {}
    for name in IMPORTS:
        start = time.perf_counter()
        module = importlib.import_module(name)
        seconds = time.perf_counter() - start
        top = sys.modules[name.split(".")[0]]
        found[name] = {"import_s": round(seconds, 3),
                       "version": getattr(top, "__version__", None) or getattr(module, "__version__", None),
                       "file": getattr(top, "__file__", None)}
    return found


def run_model(path: Path, runs: int) -> dict:
    """Load ``path`` with the backend edge-runtime picks, run it on seeded inputs, time it."""
    import numpy as np
    from edge_runtime.models.load import load_model

    start = time.perf_counter()
    runner = load_model(path)
    load_s = time.perf_counter() - start
    inputs = runner.random_inputs(seed=0, batch=1)
    start = time.perf_counter()
    outputs = runner.run(inputs)
    first_ms = (time.perf_counter() - start) * 1e3
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner.run(inputs)
        times.append((time.perf_counter() - start) * 1e3)
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(x).tobytes() for x in inputs)).hexdigest()
    return {"model": path.name, "backend": runner.backend, "provider": runner.provider,
            "load_s": round(load_s, 4), "first_run_ms": round(first_ms, 3),
            "median_run_ms": round(float(np.median(times)), 4) if times else None, "runs": runs,
            "input_sha256": digest, "outputs": [np.asarray(y, dtype=np.float64).ravel().tolist() for y in outputs]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help=".tflite / .onnx files to run")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per model after the first")
    args = parser.parse_args(argv)
    libc = platform.libc_ver()
    report = {"machine": platform.machine(), "python": platform.python_version(),
              "libc": f"{libc[0]} {libc[1]}".strip(), "executable": sys.executable,
              "imports": timed_imports(), "models": [run_model(p, args.runs) for p in args.models]}
    debian = Path("/etc/debian_version")
    report["debian_version"] = debian.read_text().strip() if debian.exists() else None
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
