"""The frozen feature extractor in front of the trainable head, run by the model runner.

One function owns the choice of runtime: ``edge_runtime.models.load_model`` (LiteRT,
ONNX Runtime or TFLite Micro, picked from the device profile) when the Foundation
runner is installed, else ONNX Runtime directly for ``.onnx`` files. Everything else
in the online package only sees ``Callable[[array], array]``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np


def load_backbone(path: str | Path, output_index: int = 0, profile: Any = None) -> Callable[[np.ndarray], np.ndarray]:
    """A function mapping a batch of inputs to a batch of flat float32 feature vectors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"backbone model {path} not found; give a .onnx or .tflite file")
    runner = _load_with_model_runner(path, profile)
    if runner is not None:
        def run_runner(x: np.ndarray) -> np.ndarray:
            out = runner.run(np.asarray(x, np.float32))[output_index]
            return np.asarray(out, np.float32).reshape(len(x), -1)
        run_runner.backend = getattr(runner, "backend", "unknown")  # type: ignore[attr-defined]
        return run_runner
    if path.suffix != ".onnx":
        raise ValueError(f"{path}: without edge_runtime.models only .onnx backbones can run here")
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    def run_onnx(x: np.ndarray) -> np.ndarray:
        out = session.run(None, {input_name: np.asarray(x, np.float32)})[output_index]
        return np.asarray(out, np.float32).reshape(len(x), -1)
    run_onnx.backend = "onnxruntime"  # type: ignore[attr-defined]
    return run_onnx


def _load_with_model_runner(path: Path, profile: Any):
    try:
        from edge_runtime.models import load_model  # Foundation's runner, when installed
    except ImportError:
        return None
    return load_model(str(path), backend="auto", profile=profile)
