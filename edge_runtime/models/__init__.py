"""One model runner for LiteRT, ONNX Runtime and TFLite Micro.

    from edge_runtime.models import load_model
    runner = load_model("kws.tflite", backend="auto", profile=profile)
    scores, = runner.run(features)          # float in, float out, even for int8 models
    runner.timeit(50)                       # {"p50_ms": ..., "p95_ms": ...}
"""
from edge_runtime.models.load import BACKENDS, load_model, pick_backend
from edge_runtime.models.runner import ModelRunner
from edge_runtime.models.specs import ModelError, ModelFileNotFound, TensorSpec, dequantize, quantize

__all__ = ["BACKENDS", "ModelError", "ModelFileNotFound", "ModelRunner", "TensorSpec", "dequantize",
           "load_model", "pick_backend", "quantize"]
