"""Distributed ED-ViT inference: fan images out to the devices, fuse what comes back.

The transport is anything with the coordinator's ``request_many(device_ids, task_name,
body, deadline_s) -> {device: Reply | None}``: the MQTT :class:`Coordinator` in
deployment, :class:`LocalFleet` (tasks called in threads) in tests and for a quick
look without a broker. Correlation ids and the deadline are the transport's job; here
a device that is late, offline or answers with an error simply contributes nothing, its
blocks are filled with the training mean, and the answer is flagged ``partial``.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

import numpy as np

from edge_runtime.edvit.fusion import FusionHead, submodel_block
from edge_runtime.edvit.plan import Plan
from edge_runtime.edvit.task import encode_images

log = logging.getLogger(__name__)


class Transport(Protocol):
    def request_many(self, device_ids: Iterable[str], task_name: str, body: dict[str, Any],
                     deadline_s: float) -> dict[str, Any]: ...


@dataclass
class InferenceResult:
    classes: np.ndarray
    probabilities: np.ndarray
    partial: bool
    missing_submodels: list[int]
    missing_devices: list[str]
    latency_s: float            # request out -> fused answer
    compute_s: float            # slowest device's model time
    bytes_out: int = 0
    bytes_in: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    device_latency_s: dict[str, float] = field(default_factory=dict)   # per answering device
    fusion_s: float = 0.0       # the coordinator's fusion step alone (part of latency_s)

    @property
    def messaging_s(self) -> float:
        """What the network, broker and (de)serialisation cost beyond the slowest device's compute."""
        return max(0.0, self.latency_s - self.compute_s)


class DistributedClassifier:
    """Classify images with the sub-models placed in ``plan`` (device -> sub-models)."""

    def __init__(self, plan: Plan, transport: Transport, task_name: str = "edvit",
                 deadline_s: float = 2.0, wire_uint8: bool = True):
        self.plan = plan
        self.hosts = plan.devices()
        if not self.hosts:
            raise ValueError(f"plan {plan.root} has no placement; run 'cloud-sync edvit place' first")
        self.fusion = FusionHead.load(plan.path(plan.manifest["fusion"]["weights"]))
        self.transport = transport
        self.task_name = task_name
        self.deadline_s = deadline_s
        self.wire_uint8 = wire_uint8     # send 8-bit pixels: 4x fewer bytes than float32

    def classify(self, images: np.ndarray) -> InferenceResult:
        images = np.asarray(images, dtype=np.float32)
        size = self.plan.image_size
        if images.ndim != 4 or images.shape[1:] != (1, size, size):
            raise ValueError(f"images must be (batch, 1, {size}, {size}); got {images.shape}")
        start = time.perf_counter()
        body = encode_images(images) if self.wire_uint8 else {"x": images}
        replies = self.transport.request_many(list(self.hosts), self.task_name, body, self.deadline_s)
        blocks, compute, errors, bytes_out, bytes_in = {}, 0.0, {}, 0, 0
        latencies: dict[str, float] = {}
        for device, reply in replies.items():
            if reply is None or not reply.ok:
                errors[device] = "no reply by the deadline" if reply is None else str(reply.error)
                continue
            latencies[device] = float(getattr(reply, "latency_s", 0.0) or 0.0)
            bytes_out += reply.bytes_out
            bytes_in += reply.bytes_in
            compute = max(compute, float(reply.body.get("compute_s", 0.0)))
            for result in reply.body.get("results", []):
                problem = self._check(result, device, len(images))
                if problem:
                    errors[device] = problem
                else:
                    blocks[result["index"]] = submodel_block(result["features"], result["logits"])
        fusion_start = time.perf_counter()
        answer = self.fusion.fuse(blocks, len(images))
        fusion_s = time.perf_counter() - fusion_start
        for device, error in errors.items():
            log.warning("ED-ViT: %s missing from the answer: %s", device, error)
        return InferenceResult(answer.classes, answer.probabilities, answer.partial, answer.missing,
                               sorted(errors), time.perf_counter() - start, compute,
                               bytes_out, bytes_in, errors, latencies, fusion_s)

    def _check(self, result: Any, device: str, batch: int) -> str | None:
        """Why a device's result cannot be fused (then it counts as missing), or None."""
        index = result.get("index") if isinstance(result, dict) else None
        if index not in self.hosts[device]:
            return f"sent sub-model {index!r}, which the plan does not place on it"
        try:
            block = submodel_block(np.asarray(result["features"]), np.asarray(result["logits"]))
        except (KeyError, ValueError) as exc:
            return f"sub-model {index}: malformed result ({exc})"
        expected = (batch, self.fusion.block_sizes[index])
        if block.shape != expected:
            return (f"sub-model {index} sent shape {block.shape}, fusion expects {expected}: "
                    f"redeploy the plan {self.plan.root} to {device}")
        return None


@dataclass
class LocalReply:
    """Same fields as ``cloud_sync.coordinator.Reply`` for in-process calls."""

    device_id: str
    ok: bool
    body: Any
    error: str | None
    latency_s: float
    bytes_out: int = 0
    bytes_in: int = 0


class LocalFleet:
    """In-process transport: device id -> task object, each called in its own thread."""

    def __init__(self, tasks: dict[str, Any]):
        self.tasks = dict(tasks)
        self.pool = ThreadPoolExecutor(max_workers=max(1, len(self.tasks)))

    def _call(self, device: str, body: dict[str, Any]) -> LocalReply:
        start = time.perf_counter()
        try:
            result = self.tasks[device].handle(body)
            return LocalReply(device, True, result, None, time.perf_counter() - start)
        except Exception as exc:  # the agent turns task errors into error replies too
            return LocalReply(device, False, None, f"{type(exc).__name__}: {exc}",
                              time.perf_counter() - start)

    def request_many(self, device_ids, task_name, body, deadline_s):
        futures = {d: self.pool.submit(self._call, d, body) for d in device_ids if d in self.tasks}
        wait(list(futures.values()), timeout=deadline_s)
        out = {d: (f.result() if f.done() else None) for d, f in futures.items()}
        out.update({d: None for d in device_ids if d not in self.tasks})
        return out

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        for task in self.tasks.values():
            task.close()
