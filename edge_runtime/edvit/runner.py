"""Run one exported ED-ViT sub-model: images in, (features, logits) out.

The engine is the project's model runner (``edge_runtime.models.load_model`` with the
onnxruntime backend, providers from the device profile); this wrapper only adds the
image-shape check with an error that says what ED-ViT expects, and timing.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.models import load_model


class SubmodelRunner:
    """One sub-model file; ``threads`` caps ONNX Runtime's intra-op threads (one core = one device)."""

    def __init__(self, path: str | Path, image_size: int, threads: int = 1, profile: Any = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ED-ViT sub-model {self.path} not found; run "
                                    "'cloud-sync edvit split' and copy the plan to the device")
        self.image_size = int(image_size)
        self.runner = load_model(self.path, backend="onnxruntime", profile=profile,
                                 intra_op_threads=threads)

    @property
    def backend(self) -> str:
        return self.runner.backend

    @property
    def provider(self) -> str:
        return self.runner.provider

    def check_images(self, images) -> np.ndarray:
        """(batch, 1, H, W) float32; also accepts one (H, W) image or (batch, H, W)."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 2:
            images = images[None, None]
        elif images.ndim == 3:
            images = images[:, None]
        size = self.image_size
        if images.ndim != 4 or images.shape[1:] != (1, size, size):
            raise ValueError(f"ED-ViT images must be (batch, 1, {size}, {size}) floats in [0, 1]; "
                             f"got shape {images.shape}")
        return np.ascontiguousarray(images)

    def run(self, images) -> tuple[np.ndarray, np.ndarray, float]:
        """(features, logits, compute seconds) for a batch of images."""
        images = self.check_images(images)
        start = time.perf_counter()
        features, logits = self.runner.run(images)[:2]
        return features, logits, time.perf_counter() - start
