"""Signed model OTA in the demo: one device serves a small ONNX model; once the fleet is up the
cloud signs a new version and rolls it out (health-gated), then sends a version whose artifact
was tampered with after signing, which the device refuses (sha256) while it keeps serving. Both
jobs show in the dashboard's Deployments tab, the refusal also under Alarms."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from cloud_sync.demo.workloads import DemoContext, Workload

MODEL, TASK = "demo-scorer", "scorer"
HEALTH = {"window_s": 2.0, "min_requests": 3, "probe_interval_s": 0.2}


def make_scorer(path: Path, seed: int) -> Path:
    """y = relu(x @ W1) @ W2 over x[N, 4]: a real ONNX graph, a few hundred bytes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = [numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)
               for name, shape in (("w1", (4, 16)), ("w2", (16, 2)))]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["y"])]
    graph = helper.make_graph(nodes, "demo_scorer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


class SignedRollout(Workload):
    name, role = "ota", "ota"
    needs = ("onnx", "onnxruntime", "edge_runtime.ota.component")
    tick_every_s = 2.0
    START_AFTER_S = 10.0            # let the device serve its first model for a while

    def available(self, ctx):
        if getattr(ctx.stack, "ota", None) is None:
            return "the cloud stack runs without OTA"
        return super().available(ctx)

    def setup(self, ctx: DemoContext) -> None:
        from edge_runtime.ota.component import KEYS_ENV

        self.folder = ctx.workdir / "ota"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.initial = make_scorer(self.folder / "initial.onnx", seed=1)
        self.registry = ctx.stack.ota.deployments.registry
        os.environ[KEYS_ENV] = str(self.registry.public_key_path)   # agents started after this trust it
        self.jobs: dict[str, dict] = {}        # "signed" / "tampered" -> job
        self.first_tick: float | None = None

    def tasks_for(self, device, index, ctx):
        return [{"kind": "model", "name": TASK, "interval_s": 1.0, "params": {"model": str(self.initial)}}]

    def tick(self, ctx: DemoContext) -> None:
        now = time.monotonic()
        self.first_tick = self.first_tick or now
        targets = [d.device_id for d in ctx.with_role(self.role)]
        if "signed" not in self.jobs and now - self.first_tick >= self.START_AFTER_S:
            self.registry.add(make_scorer(self.folder / "v2.onnx", seed=2), name=MODEL)
            self.jobs["signed"] = ctx.stack.ota.deploy(MODEL, targets, task=TASK, health=HEALTH)
            ctx.say(f"OTA                signed {MODEL} -> {', '.join(targets)} (job {self.jobs['signed']['job']})")
        elif "signed" in self.jobs and "tampered" not in self.jobs and self._done("signed", ctx):
            manifest = self.registry.add(make_scorer(self.folder / "v3.onnx", seed=3), name=MODEL)
            artifact = self.registry.artifact(manifest)
            data = bytearray(artifact.read_bytes())
            data[-10] ^= 0xFF                  # changed after signing: devices must refuse it
            artifact.write_bytes(bytes(data))
            self.jobs["tampered"] = ctx.stack.ota.deploy(MODEL, targets, task=TASK, health=HEALTH)
            ctx.say(f"OTA                tampered {manifest.ref} -> {', '.join(targets)} "
                    f"(job {self.jobs['tampered']['job']}, must be refused)")

    def _done(self, which: str, ctx: DemoContext) -> bool:
        return ctx.stack.ota.status(self.jobs[which]["job"])["state"] != "running"

    def summary(self, ctx: DemoContext) -> str:
        if not self.jobs:
            return "no rollout yet"
        parts = []
        for which, job in self.jobs.items():
            status = ctx.stack.ota.status(job["job"])
            phases = ", ".join(f"{d} {i['phase']}" for d, i in sorted(status["devices"].items()))
            parts.append(f"{which} {job['model']}: {status['state']} ({phases})")
        return "; ".join(parts)

    def stored(self, ctx: DemoContext) -> int:
        return len(self.jobs)

    def in_graph(self, ctx: DemoContext, graph_results: dict[str, int]) -> int:
        """Deployments the fleet graph holds (ssn:Deployment, kept current by deploy events)."""
        if ctx.stack.graph_store is None:
            return 0
        rows = ctx.stack.graph_store.query(DEPLOYMENTS)
        return int(rows[0]["n"]) if rows else 0


DEPLOYMENTS = """PREFIX ssn: <http://www.w3.org/ns/ssn/>
SELECT (COUNT(DISTINCT ?deployment) AS ?n) WHERE { ?deployment a ssn:Deployment }"""
