"""Agent task ``edvit``: run this device's ED-ViT sub-model(s) on request.

Device config::

    tasks:
      - kind: edvit
        name: edvit
        params: {plan: /opt/edvit/plan, submodels: [1], threads: 1, format: onnx}

``plan`` is the plan folder (relative paths are taken from the task's state dir);
``submodels`` defaults to the ones the plan's placement gives this device id, or all;
``format`` is ``onnx`` (default, ONNX Runtime) or ``tflite`` (LiteRT; the plan needs
``cloud-sync edvit export-tflite`` first).
A request ``{"x": images (B, 1, H, W) float32}`` (or ``uint8`` with ``"scale"``: 4x fewer
bytes on the wire, lossless for 8-bit pixels) is answered with
``{"device": id, "results": [{"index", "features", "logits", "compute_s"}], "compute_s"}``;
the coordinator's fusion step turns several such replies into one class.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.agent.task import Task, TaskContext
from edge_runtime.edvit.plan import load_plan
from edge_runtime.edvit.runner import SubmodelRunner

MAX_BATCH = 4096


def encode_images(images: np.ndarray) -> dict[str, Any]:
    """Request body for float images in [0, 1]: 8-bit pixels plus the scale back to floats."""
    images = np.asarray(images, dtype=np.float32)
    return {"x": np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8), "scale": 1.0 / 255.0}


def decode_images(request: dict[str, Any]) -> np.ndarray:
    images = np.asarray(request["x"])
    if images.dtype == np.uint8:
        scale = float(request.get("scale", 1.0 / 255.0))
        if not 0 < scale <= 1:
            raise ValueError(f"edvit request 'scale' must be in (0, 1], got {scale}")
        return images.astype(np.float32) * np.float32(scale)
    if images.dtype.kind != "f":
        raise ValueError(f"edvit request 'x' must be float32 or uint8 images, got {images.dtype}")
    return images.astype(np.float32, copy=False)


class EdvitSubmodelTask(Task):
    kind = "edvit"

    def __init__(self, name: str, params: dict[str, Any], context: TaskContext):
        super().__init__(name, params, context)
        if "plan" not in params:
            raise ValueError(f"task {name!r} (edvit) needs params.plan: the plan folder from "
                             "'cloud-sync edvit split'")
        root = Path(params["plan"]).expanduser()
        if not root.is_absolute():
            root = Path(context.state_dir) / root
        self.plan = load_plan(root)
        indices = params.get("submodels")
        if indices is None:
            indices = self.plan.devices().get(context.device_id) or [e["index"] for e in self.plan.submodels]
        if not indices:
            raise ValueError(f"plan {root} has no sub-models; run 'cloud-sync edvit split' first")
        threads = int(params.get("threads", 1))
        self.model_format = str(params.get("format", "onnx")).lower()
        self.runners = {int(i): SubmodelRunner(self.plan.model_file(self.plan.submodel(int(i)), self.model_format),
                                               self.plan.image_size, threads, context.profile)
                        for i in indices}
        self.requests = 0

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        if "x" not in request:
            raise ValueError("edvit request needs 'x': images (batch, 1, H, W) float32")
        images = decode_images(request)
        if images.ndim >= 1 and len(images) > MAX_BATCH:
            raise ValueError(f"edvit batch of {len(images)} images exceeds {MAX_BATCH}; split it")
        wanted = request.get("submodels") or list(self.runners)
        results = []
        for index in wanted:
            if int(index) not in self.runners:
                raise ValueError(f"device {self.context.device_id} does not host sub-model {index}; "
                                 f"it hosts {sorted(self.runners)}")
            features, logits, seconds = self.runners[int(index)].run(images)
            results.append({"index": int(index), "features": features, "logits": logits,
                            "compute_s": seconds})
        self.requests += 1
        return {"device": self.context.device_id, "results": results,
                "compute_s": sum(r["compute_s"] for r in results)}

    def status(self) -> dict[str, Any]:
        any_runner = next(iter(self.runners.values()))
        return {"submodels": sorted(self.runners), "format": self.model_format, "backend": any_runner.backend,
                "provider": any_runner.provider, "requests": self.requests}
