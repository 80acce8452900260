"""One model runner for LiteRT, ONNX Runtime and TFLite Micro.

    from edge_runtime.models import load_model
    runner = load_model("kws.tflite", backend="auto", profile=profile)
    scores, = runner.run(features)          # float in, float out, even for int8 models
    runner.timeit(50)                       # {"p50_ms": ..., "p95_ms": ...}

Names are resolved on first use (PEP 562): importing this package, as the CLI does to list
its commands, costs nothing on a device installed without numpy or a backend; the first
real use says which extra to install when they are missing.
"""
from __future__ import annotations

import importlib

_WHERE = {"BACKENDS": "load", "load_model": "load", "pick_backend": "load", "ModelRunner": "runner",
          "ModelError": "specs", "ModelFileNotFound": "specs", "TensorSpec": "specs",
          "dequantize": "specs", "quantize": "specs"}
__all__ = sorted(_WHERE)
MISSING_HINT = ("running models needs numpy and an inference backend, which the lean install leaves "
                "out: pip install 'edge-runtime[litert]' (TFLite), '[onnx]' (ONNX Runtime), "
                "'[mcu]' (TFLite Micro) or '[device]' (LiteRT + ONNX Runtime)")


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'edge_runtime.models' has no attribute {name!r}")
    try:
        module = importlib.import_module(f"edge_runtime.models.{_WHERE[name]}")
    except ModuleNotFoundError as exc:
        if exc.name == "numpy":
            raise ModuleNotFoundError(MISSING_HINT, name="numpy") from exc
        raise
    return getattr(module, name)
