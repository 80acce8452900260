"""Run one exported ED-ViT sub-model: images in, (features, logits) out.

The engine is the project's model runner (``edge_runtime.models.load_model``): ONNX
Runtime for ``.onnx`` (providers from the device profile), LiteRT for ``.tflite``. This
wrapper adds the image-shape check with an error that says what ED-ViT expects, timing,
and batching for files with a fixed batch: litert-torch cannot export this ViT with an
open batch axis, so a ``.tflite`` sub-model takes one image per call and a request's
batch is fed through it in chunks of that size (the last chunk zero-padded).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.models import load_model


class SubmodelRunner:
    """One sub-model file; ``threads`` caps the engine's threads (one core = one device)."""

    def __init__(self, path: str | Path, image_size: int, threads: int = 1, profile: Any = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ED-ViT sub-model {self.path} not found; run "
                                    "'cloud-sync edvit split' and copy the plan to the device")
        self.image_size = int(image_size)
        if self.path.suffix.lower() == ".tflite":
            self.runner = load_model(self.path, backend="litert", num_threads=threads)
        else:
            self.runner = load_model(self.path, backend="onnxruntime", profile=profile,
                                     intra_op_threads=threads)
        first = self.runner.inputs[0].shape[0]
        self.fixed_batch = int(first) if first > 0 else None   # None: any batch in one call

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
        if self.fixed_batch is None or len(images) == self.fixed_batch:
            features, logits = self.runner.run(images)[:2]
        else:
            features, logits = self._run_in_chunks(images)
        return features, logits, time.perf_counter() - start

    def _run_in_chunks(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        size = self.fixed_batch
        padded = -len(images) % size
        if padded:
            images = np.concatenate([images, np.zeros((padded, *images.shape[1:]), images.dtype)])
        outputs = [self.runner.run(images[i:i + size])[:2] for i in range(0, len(images), size)]
        keep = len(images) - padded
        return tuple(np.concatenate([out[k] for out in outputs])[:keep] for k in (0, 1))
