"""ED-ViT in the demo: a small ViT trained on scikit-learn's digits at start-up, split by
classes into one pruned sub-model per ``edvit`` device, placed by the devices' profiles; the
cloud then classifies a digit every couple of seconds by asking every device and fusing."""
from __future__ import annotations

import time

import numpy as np

from cloud_sync.coordinator import Event
from cloud_sync.demo.workloads import DemoContext, Workload


class EdvitSplitInference(Workload):
    name, role = "edvit", "edvit"
    needs = ("torch", "cloud_sync.edvit.build", "edge_runtime.edvit.task")
    tick_every_s = 2.0
    EPOCHS, SPLIT_EPOCHS = 15, 6

    def setup(self, ctx: DemoContext) -> None:
        from cloud_sync.edvit.build import place_plan, split_plan, train_full
        from cloud_sync.edvit.data import load_digits
        from cloud_sync.edvit.placement import devices_from_profiles
        from cloud_sync.edvit.split import SplitSettings

        import torch

        # One thread: the demo shares the machine with its agents, and torch's thread pool
        # spinning against them made this set-up 20x slower on a loaded 2-core box.
        torch.set_num_threads(1)
        hosts = ctx.with_role(self.role)
        self.data = load_digits(seed=ctx.seed)
        plan = train_full(self.data, ctx.workdir / "edvit-plan", epochs=self.EPOCHS, seed=ctx.seed,
                          progress=False)
        plan, submodels = split_plan(plan, self.data, len(hosts),
                                     SplitSettings(epochs=self.SPLIT_EPOCHS, progress=False, seed=ctx.seed))
        place_plan(plan, devices_from_profiles({d.device_id: d.profile for d in hosts}), data=self.data,
                   log=lambda line: None)
        self.plan = plan
        self.rng = np.random.default_rng(ctx.seed)
        self.answered = self.correct = 0
        full = plan.manifest["full"]
        ctx.say(f"ED-ViT plan        full ViT {full['bytes'] // 1024} KiB, accuracy {full['accuracy']:.3f}; "
                + ", ".join(f"sub-model {s['index']} {s['bytes'] // 1024} KiB" for s in plan.submodels))

    def tasks_for(self, device, index, ctx):
        return [{"kind": "edvit", "name": self.name, "interval_s": 0,
                 "params": {"plan": str(self.plan.root), "threads": 1}}]

    def tick(self, ctx: DemoContext) -> None:
        from cloud_sync.edvit.client import DistributedClassifier

        classifier = DistributedClassifier(self.plan, ctx.stack.coordinator, self.name, deadline_s=2.0)
        pick = int(self.rng.integers(len(self.data.x_test)))
        result = classifier.classify(self.data.x_test[pick:pick + 1])
        label, truth = int(result.classes[0]), int(self.data.y_test[pick])
        self.answered += 1
        self.correct += int(label == truth)
        ctx.stack.activity.record(self.name, {
            "label": label, "truth": truth, "partial": bool(result.partial),
            "missing": result.missing_devices, "total_ms": round(result.latency_s * 1000, 2),
            "compute_ms": round(result.compute_s * 1000, 2),
            "per_device_ms": {d: round(s * 1000, 2) for d, s in result.device_latency_s.items()},
            # which device hosts which sub-model, and the role's devices the placement left idle
            # (a device without a sub-model has no latency to list)
            "hosts": self.plan.devices(),
            "idle": sorted({d.device_id for d in ctx.with_role(self.role)} - set(self.plan.devices()))})
        if ctx.stack.fleet_graph is not None:     # per-device count and mean latency, as for results
            for device, latency_s in result.device_latency_s.items():
                ctx.stack.fleet_graph.on_event(Event("result", device, {"task": self.name,
                                                                        "latency_ms": latency_s * 1000},
                                                     time.time()))

    def stored(self, ctx: DemoContext) -> int:
        return ctx.stack.activity.count(self.name)

    def summary(self, ctx: DemoContext) -> str:
        if not self.answered:
            return "no request answered yet"
        return f"{self.answered} digits classified across devices, {self.correct / self.answered:.2f} correct"
