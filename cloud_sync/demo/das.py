"""DAS traffic in the demo: each fibre device streams a generated road scene (the real DAS
samples in shared/data are seconds long and have no vehicles) and reports vehicles and
per-minute counts; the dashboard draws the waterfall it sends."""
from __future__ import annotations

from cloud_sync.demo.workloads import DemoContext, Workload


class DasTraffic(Workload):
    name, role = "das", "das"
    needs = ("edge_runtime.das.task",)
    CHUNK_S = 10.0
    INTERVAL_S = 2.0          # 10 s of fibre data every 2 s: 5x real time

    def tasks_for(self, device, index, ctx: DemoContext):
        simulate = {"seed": ctx.seed + 17 * index, "n_channels": 300, "dx": 2.0, "fs": 250.0,
                    "duration_s": 1800.0, "rate_per_min": 6.0, "chunk_s": self.CHUNK_S}
        return [{"kind": "das", "name": self.name, "interval_s": self.INTERVAL_S,
                 "params": {"source": "simulate", "simulate": simulate}}]

    def summary(self, ctx: DemoContext) -> str:
        records = [r["body"] for r in ctx.stack.coordinator.results(task=self.name, limit=1_000_000)]
        vehicles = [b for b in records if b.get("type") == "vehicle"]
        trucks = sum(1 for b in vehicles if b.get("class") == "truck")
        minutes = sum(1 for b in records if b.get("type") == "minute")
        if not vehicles:
            return f"{len(records)} records, no vehicle yet"
        mean = sum(abs(b.get("speed_kmh", 0.0)) for b in vehicles) / len(vehicles)
        return (f"{len(vehicles)} vehicles ({trucks} trucks), mean |speed| {mean:.0f} km/h, "
                f"{minutes} minute summaries")
