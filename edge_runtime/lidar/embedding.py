"""The person-embedding model on the device: ONNX in, unit vectors out.

The model (trained in ``cloud_sync.lidar.train_embedding``) maps a heading-aligned sample
of a person's points to a 16-D unit vector; the same person seen by two sensors lands close.
Only these vectors leave the device, never the points.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

DEFAULT_MODEL = Path(__file__).with_name("models") / "person_embedding.onnx"


class _OnnxRuntimeRunner:
    """Minimal stand-in for the model runner: ``.run(x) -> [outputs]`` on onnxruntime's CPU."""

    backend = "onnxruntime"
    provider = "CPUExecutionProvider"

    def __init__(self, path: Path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=[self.provider])
        self.input_name = self.session.get_inputs()[0].name

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self.input_name: x})


def load_embedding_runner(path: str | Path = DEFAULT_MODEL):
    """The project's model runner on onnxruntime (one intra-op thread: the per-frame budget is
    for one core); onnxruntime directly on an install without the model runner."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"embedding model {path} not found; regenerate it with "
                                "'python -m cloud_sync.lidar.train_embedding'")
    try:
        from edge_runtime.models import load_model
    except ImportError:
        return _OnnxRuntimeRunner(path)
    return load_model(path, backend="onnxruntime", intra_op_threads=1)


class PersonEmbedder:
    def __init__(self, path: str | Path = DEFAULT_MODEL):
        self.path = Path(path)
        self.runner = load_embedding_runner(self.path)

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """(B, P, 3) float32 point samples → (B, D) unit vectors."""
        if len(samples) == 0:
            return np.zeros((0, 0), dtype=np.float32)
        out = np.asarray(self.runner.run(np.ascontiguousarray(samples, dtype=np.float32))[0])
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    def status(self) -> dict:
        return {"model": self.path.name, "backend": getattr(self.runner, "backend", "onnxruntime"),
                "provider": getattr(self.runner, "provider", None)}
