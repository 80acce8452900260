"""`.tflite` models through LiteRT (ai-edge-litert), or tflite-runtime where only that installs.

LiteRT applies its XNNPACK delegate by default on CPU; that is the path a Pi or a PC
really takes, so the runner keeps it and reports it as the provider.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_runtime.models.runner import ModelRunner, check_model_file
from edge_runtime.models.specs import ModelError, spec_from_tflite_details


def import_interpreter():
    """(Interpreter class, package name): ai-edge-litert first, tflite-runtime as fallback."""
    try:
        from ai_edge_litert.interpreter import Interpreter
        return Interpreter, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter
        return Interpreter, "tflite-runtime"
    except ImportError:
        raise ModelError("no TFLite interpreter installed: pip install ai-edge-litert "
                         "(or tflite-runtime on platforms without LiteRT wheels)") from None


class LiteRTRunner(ModelRunner):
    backend = "litert"

    def __init__(self, path: str | Path, num_threads: int | None = None):
        super().__init__(check_model_file(path, (".tflite",)))
        interpreter_class, package = import_interpreter()
        try:
            self._interpreter = interpreter_class(model_path=str(self.path), num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.path}: {package} cannot load it as a TFLite model "
                             f"(corrupt file or unsupported ops): {exc}") from None
        self.package = package
        self.provider = f"{package} CPU (XNNPACK)"
        self._in = self._interpreter.get_input_details()
        self._out = self._interpreter.get_output_details()
        self.inputs = [spec_from_tflite_details(d) for d in self._in]
        self.outputs = [spec_from_tflite_details(d) for d in self._out]
        self._current_shapes = [tuple(d["shape"]) for d in self._in]

    def _resize_if_needed(self, arrays: list[np.ndarray]) -> None:
        shapes = [a.shape for a in arrays]
        if shapes == self._current_shapes:
            return
        for detail, shape in zip(self._in, shapes):
            self._interpreter.resize_tensor_input(detail["index"], list(shape))
        self._interpreter.allocate_tensors()
        self._current_shapes = shapes

    def _invoke(self, arrays):
        self._resize_if_needed(arrays)
        for detail, array in zip(self._in, arrays):
            self._interpreter.set_tensor(detail["index"], np.ascontiguousarray(array))
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(d["index"]).copy() for d in self._out]

    def dequantize_steps(self) -> list[float | None]:
        """Per float output made by a DEQUANTIZE op: the scale of the int8 tensor it came from.

        Float-I/O models that are int8 inside can only be compared in units of that scale.
        Uses LiteRT's op listing (a private API); None where it is unavailable.
        """
        try:
            ops = self._interpreter._get_ops_details()
            tensors = {d["index"]: d for d in self._interpreter.get_tensor_details()}
        except (AttributeError, RuntimeError, ValueError):
            return [None] * len(self._out)
        producer = {int(out): op for op in ops if op["op_name"] == "DEQUANTIZE" for out in op["outputs"]}
        steps = []
        for detail in self._out:
            op = producer.get(detail["index"])
            scale = tensors[int(op["inputs"][0])]["quantization"][0] if op is not None else 0.0
            steps.append(float(scale) or None)
        return steps

    def close(self):
        self._interpreter = None
