"""A stand-in for the ``edvit`` task that answers with recorded outputs after a measured wait.

Why: on a machine with fewer cores than devices, N agents computing at once steal each
other's cores, so the time the MQTT path adds (request out, result back, fusion) cannot
be told apart from the compute queueing. This task keeps the whole real path — the agent
process, the broker, CBOR, the coordinator's correlation and deadline, the fusion — but
replaces the model run by a *sleep* of the time the device's sub-model was measured to
take on a core of its own (``cloud_sync.edvit.pinned``). A sleep holds no core, so the
messaging figure is not inflated by compute the real devices would do in parallel.

The answers are the real sub-model outputs, recorded beforehand for the images the
benchmark will send (looked up by a pixel fingerprint), so the fused classes over this
path are the real ones and a wrong lookup shows up as a wrong accuracy, not as a silent
zero. An image that was not recorded is refused with a message.

Agent config (``kind`` is a ``module:Class`` path, so no registry entry is needed)::

    tasks:
      - kind: edge_runtime.edvit.standin:RecordedSubmodelTask
        name: edvit
        params: {recording: /tmp/n4-dev0.npz, compute_s: {"1": 0.0002, "64": 0.003}}

``compute_s`` maps a batch size to the seconds to wait; a batch size not in it is refused.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.agent.task import Task, TaskContext
from edge_runtime.edvit.task import MAX_BATCH

TASK_KIND = "edge_runtime.edvit.standin:RecordedSubmodelTask"
_FINGERPRINT_SEED = 20261206


def image_fingerprints(images: np.ndarray) -> np.ndarray:
    """One uint64 per image from its 8-bit pixels (vectorised; wraps around on overflow)."""
    pixels = np.asarray(images)
    if pixels.dtype != np.uint8:
        pixels = np.clip(np.rint(pixels.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    flat = pixels.reshape(len(pixels), -1).astype(np.uint64)
    weights = np.random.default_rng(_FINGERPRINT_SEED).integers(1, 2**63, flat.shape[1], dtype=np.uint64)
    with np.errstate(over="ignore"):
        return (flat * weights).sum(axis=1, dtype=np.uint64)


def write_recording(path: str | Path, images: np.ndarray, outputs: dict[int, tuple[np.ndarray, np.ndarray]]) -> Path:
    """Save sub-model outputs ``{index: (features, logits)}`` for ``images`` keyed by fingerprint."""
    prints = image_fingerprints(images)
    order = np.argsort(prints, kind="stable")
    unique, first = np.unique(prints[order], return_index=True)
    arrays = {"fingerprints": unique}
    for index, (features, logits) in outputs.items():
        if len(features) != len(images) or len(logits) != len(images):
            raise ValueError(f"sub-model {index}: {len(features)} outputs for {len(images)} images")
        arrays[f"features_{index}"] = np.asarray(features, np.float32)[order][first]
        arrays[f"logits_{index}"] = np.asarray(logits, np.float32)[order][first]
    np.savez(path, **arrays)
    return Path(path)


class RecordedSubmodelTask(Task):
    kind = "edvit-standin"

    def __init__(self, name: str, params: dict[str, Any], context: TaskContext):
        super().__init__(name, params, context)
        if "recording" not in params or "compute_s" not in params:
            raise ValueError(f"task {name!r} (edvit stand-in) needs params.recording (an .npz from "
                             "write_recording) and params.compute_s ({batch: seconds})")
        with np.load(Path(params["recording"]).expanduser()) as blob:
            self.fingerprints = blob["fingerprints"]
            self.outputs = {int(key.split("_")[1]): (blob[key], blob[f"logits_{key.split('_')[1]}"])
                            for key in blob.files if key.startswith("features_")}
        self.compute_s = {}
        for batch, seconds in dict(params["compute_s"]).items():
            seconds = float(seconds)
            if not 0 <= seconds <= 600:
                raise ValueError(f"edvit stand-in compute_s[{batch}] = {seconds} s is outside [0, 600]")
            self.compute_s[int(batch)] = seconds
        self.requests = 0

    def rows(self, images: np.ndarray) -> np.ndarray:
        """Recording rows of ``images``; refuses images that were not recorded."""
        prints = image_fingerprints(images)
        rows = np.clip(np.searchsorted(self.fingerprints, prints), 0, len(self.fingerprints) - 1)
        unknown = np.flatnonzero(self.fingerprints[rows] != prints)
        if unknown.size:
            raise ValueError(f"edvit stand-in on {self.context.device_id}: {unknown.size} of {len(images)} "
                             "images were not recorded; record the images the benchmark sends")
        return rows

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        if "x" not in request:
            raise ValueError("edvit request needs 'x': images (batch, 1, H, W)")
        images = np.asarray(request["x"])
        if images.ndim != 4 or not 1 <= len(images) <= MAX_BATCH:
            raise ValueError(f"edvit stand-in takes (batch, 1, H, W) with 1 <= batch <= {MAX_BATCH}; "
                             f"got shape {images.shape}")
        if len(images) not in self.compute_s:
            raise ValueError(f"edvit stand-in has no measured compute time for batch {len(images)}; "
                             f"it has {sorted(self.compute_s)}")
        start = time.perf_counter()
        rows = self.rows(images)
        wait = self.compute_s[len(images)]
        self.context.log.info("edvit stand-in %s: batch %d, answering in %.4f s",
                              self.context.device_id, len(images), wait)
        time.sleep(max(0.0, wait - (time.perf_counter() - start)))
        seconds = time.perf_counter() - start
        results = [{"index": index, "features": features[rows], "logits": logits[rows], "compute_s": seconds}
                   for index, (features, logits) in sorted(self.outputs.items())]
        self.requests += 1
        return {"device": self.context.device_id, "results": results, "compute_s": seconds}

    def status(self) -> dict[str, Any]:
        return {"submodels": sorted(self.outputs), "backend": "recorded stand-in", "requests": self.requests}
