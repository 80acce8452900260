"""`ModelTask` (kind "model"): run the configured model every step and report what happened.

Config (``tasks: [{kind: model, name: kws, interval_s: 1, params: {...}}]``):

* ``model``: path of a .tflite/.onnx file (relative paths are also tried under the
  shared data folder);
* ``backend``: auto | litert | onnxruntime | tflm (auto follows the device profile);
* ``input``: optional .npy file fed to the model; otherwise seeded random data of the
  right shape/dtype (``seed``, ``batch``).

`swap_model(path)` is how OTA activates a new model: the new one is loaded and checked
first while the old keeps serving; only then are they exchanged, under a lock, so no
step ever runs on a half-loaded model. A failed load leaves the old model in place.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.agent.task import Task
from edge_runtime.models.load import load_model
from edge_runtime.models.runner import ModelRunner
from edge_runtime.models.specs import ModelError


def summarize(y: np.ndarray) -> dict[str, Any]:
    """A few numbers that say what an output was without shipping the whole tensor."""
    flat = y.reshape(y.shape[0], -1) if y.ndim > 1 else y.reshape(1, -1)
    return {"shape": list(y.shape), "dtype": y.dtype.name, "min": float(y.min()), "max": float(y.max()),
            "mean": float(y.mean()), "argmax": flat.argmax(axis=1).tolist()}


class ModelTask(Task):
    kind = "model"

    def __init__(self, name, params, context):
        super().__init__(name, params, context)
        if "model" not in self.params:
            raise ModelError(f"task {name!r}: params.model (path of a .tflite/.onnx file) is required")
        self.backend_choice = self.params.get("backend", "auto")
        self._lock = threading.Lock()
        self._runner = self._open(self.params["model"])
        self._inputs = self._make_inputs(self._runner)
        self.runs = 0
        self.swaps = 0

    def _resolve(self, path: str | Path) -> Path:
        path = Path(path)
        shared = getattr(self.context, "shared_data", None)
        if not path.is_absolute() and not path.exists() and shared is not None and (shared / path).exists():
            return shared / path
        return path

    def _open(self, path: str | Path) -> ModelRunner:
        runner = load_model(self._resolve(path), backend=self.backend_choice,
                            profile=getattr(self.context, "profile", None))
        runner.warmup(1)  # a model that loads but cannot run must fail here, not in step()
        return runner

    def _make_inputs(self, runner: ModelRunner) -> list[np.ndarray]:
        source = self.params.get("input")
        if source:
            data = np.load(self._resolve(source))
            return [data]
        return runner.random_inputs(seed=int(self.params.get("seed", 0)), batch=int(self.params.get("batch", 1)))

    def step(self) -> list[dict[str, Any]]:
        with self._lock:
            runner, inputs = self._runner, self._inputs
            start = time.perf_counter()
            outputs = runner.run(inputs)
            latency_ms = (time.perf_counter() - start) * 1e3
            self.runs += 1
        return [{"model": runner.path.name, "backend": runner.backend, "provider": runner.provider,
                 "latency_ms": latency_ms, "outputs": [summarize(y) for y in outputs], "t": time.time()}]

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """``{"input": nested list}`` runs the model on it (float in, float out);
        ``{"op": "swap", "path": ...}`` activates a model; ``{"op": "status"}`` describes it."""
        op = request.get("op", "run" if "input" in request else "status")
        if op == "run":
            return self.infer(request["input"])
        if op == "swap":
            return self.swap_model(request["path"])
        if op == "status":
            return self.status()
        raise ModelError(f"task {self.name!r}: unknown op {op!r} (use 'run', 'swap' or 'status')")

    def infer(self, data: Any) -> dict[str, Any]:
        """One request: the outputs themselves (as lists) plus latency, backend and provider."""
        x = [np.asarray(a) for a in data] if len(self._runner.inputs) > 1 else np.asarray(data)
        with self._lock:
            runner = self._runner
            start = time.perf_counter()
            outputs = runner.run(x)
            latency_ms = (time.perf_counter() - start) * 1e3
            self.runs += 1
        return {"outputs": [y.tolist() for y in outputs], "latency_ms": latency_ms,
                "model": runner.path.name, "backend": runner.backend, "provider": runner.provider}

    def swap_model(self, path: str | Path) -> dict[str, Any]:
        """Load and warm the new model, then exchange it for the old one; returns the new status."""
        runner = self._open(path)          # may raise: the old model keeps serving
        inputs = self._make_inputs(runner) if not self.params.get("input") else None
        if inputs is None:
            inputs = self._inputs
            runner.run(inputs)             # the configured .npy must fit the new model too
        with self._lock:
            old, self._runner, self._inputs = self._runner, runner, inputs
            self.swaps += 1
        old.close()
        return self.status()

    def status(self) -> dict[str, Any]:
        runner = self._runner
        arena = runner.arena_used_bytes() if runner.backend == "tflm" else None
        return {"model": str(runner.path), "backend": runner.backend, "provider": runner.provider,
                "arena_bytes": arena, "runs": self.runs, "swaps": self.swaps,
                "inputs": [s.to_dict() for s in runner.inputs]}

    def close(self) -> None:
        self._runner.close()
