"""`.tflite` models through the TFLite Micro Python interpreter: what an MCU would run.

TFLM plans all tensors into one fixed arena; the size it really used is what a board
needs in SRAM besides the firmware, so the runner measures it. The Python binding only
prints the recording allocator's figures to the C-level stderr, hence the fd capture.
TFLM has no batch dimension resizing: a batch is run one item at a time.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np

from edge_runtime.models.runner import ModelRunner, check_model_file
from edge_runtime.models.specs import ModelError, spec_from_tflite_details

MAX_ARENA = 64 << 20
_ARENA_LINE = re.compile(r"Arena allocation total (\d+) bytes")


def capture_c_stderr(fn) -> str:
    """Run fn() and return what C code wrote to file descriptor 2 meanwhile."""
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        return sink.read().decode("utf-8", errors="replace")


def _count_tensors(details_fn) -> int:
    n = 0
    while True:
        try:
            details_fn(n)
        except (RuntimeError, ValueError, IndexError):
            return n
        n += 1


class TflmRunner(ModelRunner):
    backend = "tflm"

    def __init__(self, path: str | Path, arena_size: int | None = None):
        super().__init__(check_model_file(path, (".tflite",)))
        try:
            from tflite_micro import runtime
        except ImportError:
            raise ModelError("TFLite Micro is not installed: pip install tflite-micro "
                             "(x86-64 Linux wheels only)") from None
        data = self.path.read_bytes()
        self._interpreter = self._create(runtime, data, arena_size)
        self.provider = "tflm reference kernels (host)"
        counts = []
        capture_c_stderr(lambda: counts.extend(  # probing past the end prints to C stderr
            _count_tensors(f) for f in (self._interpreter.get_input_details,
                                        self._interpreter.get_output_details)))
        n_in, n_out = counts
        graph = runtime.convert_bytearray_to_object(data).subgraphs[0]
        self.inputs = [spec_from_tflite_details(self._with_signature(
            self._interpreter.get_input_details(i), graph.tensors[graph.inputs[i]])) for i in range(n_in)]
        self.outputs = [spec_from_tflite_details(self._with_signature(
            self._interpreter.get_output_details(i), graph.tensors[graph.outputs[i]])) for i in range(n_out)]
        self.arena_bytes = None

    @staticmethod
    def _with_signature(detail: dict, tensor) -> dict:
        """TFLM's details lack the name and the open (-1) dims; the flatbuffer has them."""
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else tensor.name
        signature = tensor.shapeSignature if tensor.shapeSignature is not None else detail["shape"]
        return {**detail, "name": name, "shape_signature": signature}

    def _create(self, runtime, data: bytes, arena_size: int | None):
        """Start from the given arena (or 10x the model, at least 16 KiB), doubling while too small.

        TFLM explains failures only on the C stderr; that text becomes the error's reason.
        """
        size = arena_size or max(len(data) * 10, 16 << 10)
        while True:
            created, failures = [], []

            def attempt():
                try:
                    created.append(runtime.Interpreter.from_bytes(data, arena_size=size))
                except RuntimeError as exc:  # TFLM's "failed to allocate tensors": reason in the log
                    failures.append(exc)
            try:
                log = capture_c_stderr(attempt)
            except Exception as exc:  # flatbuffer parsing raises struct.error, IndexError, ...
                raise ModelError(f"{self.path}: not a valid TFLite flatbuffer for TFLite Micro "
                                 f"(corrupt or truncated file?): {type(exc).__name__}: {exc}") from None
            if created:
                return created[0]
            too_small = "Failed to allocate" in log or "too small" in log
            if not too_small or arena_size or size * 2 > MAX_ARENA:
                reason = " / ".join(line.strip() for line in log.splitlines() if line.strip())[:400]
                raise ModelError(f"{self.path}: TFLite Micro cannot run it with a {size}-byte arena: "
                                 f"{reason or 'no reason given'}")
            size *= 2

    def arena_used_bytes(self) -> int:
        """Bytes of arena the model really uses (measured after one inference)."""
        if self.arena_bytes is None:
            if not hasattr(self, "_ran"):
                self.run(self.random_inputs(), raw=True)
            text = capture_c_stderr(self._interpreter.print_allocations)
            match = _ARENA_LINE.search(text)
            if not match:
                raise ModelError(f"{self.path}: TFLite Micro did not report its arena use: {text[:200]!r}")
            self.arena_bytes = int(match.group(1))
        return self.arena_bytes

    def _invoke_one(self, arrays):
        for i, array in enumerate(arrays):
            self._interpreter.set_input(np.ascontiguousarray(array), i)
        try:
            self._interpreter.invoke()
        except RuntimeError as exc:
            raise ModelError(f"{self.path}: TFLite Micro failed to invoke: {exc}") from None
        self._ran = True
        return [np.array(self._interpreter.get_output(i)) for i in range(len(self.outputs))]

    def _invoke(self, arrays):
        fixed = [s.concrete_shape(1) for s in self.inputs]
        if all(a.shape == f for a, f in zip(arrays, fixed)):
            return self._invoke_one(arrays)
        batch = arrays[0].shape[0]
        items = [self._invoke_one([a[i:i + 1] for a in arrays]) for i in range(batch)]
        return [np.concatenate([item[k] for item in items]) for k in range(len(self.outputs))]

    def describe(self):
        info = super().describe()
        info["arena_bytes"] = self.arena_used_bytes()
        return info

    def close(self):
        self._interpreter = None
