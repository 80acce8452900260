"""`load_model`: pick the backend for a file and a device profile, and open it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_runtime.models.runner import ModelRunner, check_model_file
from edge_runtime.models.specs import ModelError

BACKENDS = ("auto", "litert", "onnxruntime", "tflm")


def pick_backend(path: Path, profile: Any = None) -> str:
    """`.onnx` -> onnxruntime; `.tflite` -> tflm on MCU profiles (or where LiteRT is unusable), else litert."""
    if path.suffix.lower() == ".onnx":
        return "onnxruntime"
    if profile is not None and (profile.device_class == "mcu" or not profile.backends.litert):
        return "tflm"
    return "litert"


def load_model(path: str | Path, backend: str = "auto", profile: Any = None, **options) -> ModelRunner:
    """Open a model with one runner API whatever the backend.

    ``profile`` (a device_profiles.Profile) picks the backend for ``auto`` and the ONNX
    Runtime providers; ``options`` go to the backend (``num_threads``, ``arena_size``,
    ``providers``, ``intra_op_threads``).
    """
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    path = check_model_file(path, (".tflite", ".onnx"))
    if backend == "auto":
        backend = pick_backend(path, profile)
    suffix_ok = {"litert": ".tflite", "tflm": ".tflite", "onnxruntime": ".onnx"}[backend]
    if path.suffix.lower() != suffix_ok:
        raise ModelError(f"backend {backend} runs {suffix_ok} files, got {path.name}")
    if backend == "litert":
        from edge_runtime.models.litert_backend import LiteRTRunner
        return LiteRTRunner(path, **options)
    if backend == "tflm":
        from edge_runtime.models.tflm_backend import TflmRunner
        return TflmRunner(path, **options)
    from edge_runtime.models.onnx_backend import OnnxRunner
    if "providers" not in options and profile is not None:
        options["providers"] = profile.backends.onnxruntime_providers or None
    return OnnxRunner(path, **options)
