"""`.onnx` models through ONNX Runtime, with execution providers chosen from the device profile.

ONNX Runtime silently falls back to CPU when a requested provider cannot start (a CUDA
wheel without the CUDA libraries, a TensorRT build on the wrong JetPack). The runner
asks the session which providers it really got, reports the first as `provider`, and
warns when it is not the one the profile wanted.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from edge_runtime.models.runner import ModelRunner, check_model_file
from edge_runtime.models.specs import ModelError, TensorSpec

log = logging.getLogger(__name__)

_ORT_TYPES = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(int16)": np.int16,
    "tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(bool)": np.bool_,
}


def choose_providers(wanted: Sequence[str] | None, available: Sequence[str]) -> tuple[list[str], list[str]]:
    """(providers to request, wanted ones this onnxruntime build lacks); CPU always last."""
    wanted = list(wanted or ["CPUExecutionProvider"])
    usable = [p for p in wanted if p in available]
    missing = [p for p in wanted if p not in available]
    if "CPUExecutionProvider" not in usable:
        usable.append("CPUExecutionProvider")
    return usable, missing


def _spec(node) -> TensorSpec:
    if node.type not in _ORT_TYPES:
        raise ModelError(f"tensor {node.name!r} has type {node.type}, which the runner does not handle")
    shape = tuple(d if isinstance(d, int) else -1 for d in node.shape)  # named/None dims are open
    return TensorSpec(name=node.name, shape=shape, dtype=np.dtype(_ORT_TYPES[node.type]))


class OnnxRunner(ModelRunner):
    backend = "onnxruntime"

    def __init__(self, path: str | Path, providers: Sequence[str] | None = None,
                 intra_op_threads: int | None = None):
        super().__init__(check_model_file(path, (".onnx",)))
        import onnxruntime as ort

        requested, missing = choose_providers(providers, ort.get_available_providers())
        if missing:
            log.warning("%s: providers %s requested by the profile are not in this onnxruntime build "
                        "(available: %s)", self.path.name, missing, ort.get_available_providers())
        options = ort.SessionOptions()
        if intra_op_threads:
            options.intra_op_num_threads = intra_op_threads
        try:
            self._session = ort.InferenceSession(str(self.path), options, providers=requested)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
            raise ModelError(f"{self.path}: onnxruntime cannot load it as an ONNX model "
                             f"(corrupt file or unsupported opset): {exc}") from None
        self.requested_providers = requested
        self.session_providers = self._session.get_providers()
        self.provider = self.session_providers[0]
        self.fell_back = self.provider != requested[0]
        if self.fell_back:
            log.warning("%s: asked for %s but the session runs on %s (silent fallback)",
                        self.path.name, requested[0], self.provider)
        self.inputs = [_spec(n) for n in self._session.get_inputs()]
        self.outputs = [_spec(n) for n in self._session.get_outputs()]
        self._input_names = [s.name for s in self.inputs]

    def _invoke(self, arrays):
        try:
            return self._session.run(None, dict(zip(self._input_names, arrays)))
        except Exception as exc:
            raise ModelError(f"{self.path}: onnxruntime failed to run: {exc}") from None

    def describe(self):
        info = super().describe()
        info["requested_providers"] = self.requested_providers
        info["session_providers"] = self.session_providers
        return info

    def close(self):
        self._session = None
