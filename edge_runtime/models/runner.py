"""The one runner API every backend implements: specs, `run`, warm-up and timing.

A backend only has to say what its tensors are (`inputs`, `outputs`) and how to invoke
the model on arrays already in the model's own dtypes (`_invoke`); input checking,
quantisation, batching rules and timing are the same for all and live here.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.models.specs import (
    ModelError, ModelFileNotFound, TensorSpec, as_input_list, finish_output, prepare_input, random_input)


def check_model_file(path: str | Path, suffixes: tuple[str, ...]) -> Path:
    """The path, or a clear error when it is missing, a folder, empty or of the wrong kind."""
    path = Path(path)
    if not path.exists():
        raise ModelFileNotFound(f"model file {str(path)!r} does not exist; check the path")
    if not path.is_file():
        raise ModelError(f"model path {str(path)!r} is not a file")
    if path.stat().st_size == 0:
        raise ModelError(f"model file {str(path)!r} is empty (an interrupted download?)")
    if path.suffix.lower() not in suffixes:
        raise ModelError(f"model file {str(path)!r}: expected {' or '.join(suffixes)}, got {path.suffix or 'no suffix'}")
    return path


class ModelRunner:
    """Base class: subclasses set `inputs`, `outputs`, `backend`, `provider` and `_invoke`."""

    backend: str = "?"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.inputs: list[TensorSpec] = []
        self.outputs: list[TensorSpec] = []
        self.provider: str = "?"
        self.arena_bytes: int | None = None

    # -- to implement -------------------------------------------------------------------
    def _invoke(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Run the model on arrays in its own dtypes/shapes; return raw outputs."""
        raise NotImplementedError

    # -- the common API -----------------------------------------------------------------
    def run(self, x: Any, raw: bool = False) -> list[np.ndarray]:
        """Run one batch: an array, a list in input order, or a dict by input name.

        Float data for quantised inputs is quantised with each tensor's scale and zero
        point and quantised outputs come back as float32, unless ``raw`` is true.
        """
        arrays = as_input_list(x, self.inputs)
        prepared = [prepare_input(a, spec, raw) for a, spec in zip(arrays, self.inputs)]
        outputs = self._invoke(prepared)
        return [finish_output(y, spec, raw) for y, spec in zip(outputs, self.outputs)]

    def random_inputs(self, seed: int = 0, batch: int = 1) -> list[np.ndarray]:
        """Seeded random data of the right shape and dtype for every input."""
        rng = np.random.default_rng(seed)
        return [random_input(spec, rng, batch) for spec in self.inputs]

    def warmup(self, n: int = 3, x: Any = None) -> None:
        """First calls pay for allocation and kernel selection; keep them out of timings."""
        x = self.random_inputs() if x is None else x
        for _ in range(n):
            self.run(x, raw=True)

    def timeit(self, n: int = 50, x: Any = None, warmup: int = 3) -> dict[str, float]:
        """Per-inference latency in ms over ``n`` runs after warm-up: p50, p95, mean, min."""
        x = self.random_inputs() if x is None else x
        self.warmup(warmup, x)
        times = np.empty(n)
        for i in range(n):
            start = time.perf_counter()
            self.run(x, raw=True)
            times[i] = time.perf_counter() - start
        ms = times * 1e3
        return {"n": n, "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
                "mean_ms": float(ms.mean()), "min_ms": float(ms.min())}

    def describe(self) -> dict[str, Any]:
        """What the model is and how it runs here (for `models inspect` and task status)."""
        return {"path": str(self.path), "size_bytes": self.path.stat().st_size,
                "backend": self.backend, "provider": self.provider, "arena_bytes": self.arena_bytes,
                "inputs": [s.to_dict() for s in self.inputs],
                "outputs": [s.to_dict() for s in self.outputs]}

    def close(self) -> None:
        """Drop the interpreter/session (subclasses free what they hold)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path.name} backend={self.backend} provider={self.provider}>"
