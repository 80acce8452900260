"""On-device learning in the demo: online presence detection on the UCI occupancy stream
(devices with the ``online`` role) and federated meta-learning rounds (``fl`` role) —
keyword audio (FSDD, speaker = device) when the shared data is present, sine tasks else."""
from __future__ import annotations

import json
from pathlib import Path

from cloud_sync.demo.workloads import DemoContext, Workload


class OnlinePresence(Workload):
    name, role = "online", "online"
    needs = ("edge_runtime.online.task",)

    def available(self, ctx):
        if ctx.shared_data is None or not (ctx.shared_data / "occupancy").is_dir():
            return "shared data occupancy/ not found"
        return super().available(ctx)

    def tasks_for(self, device, index, ctx):
        return [{"kind": "online", "name": self.name, "interval_s": 1.0,
                 "params": {"mode": "classifier", "n_features": 5, "n_classes": 2, "hidden": [16],
                            "lr": 0.01, "samples_per_step": 120, "metrics_every": 720, "loop": True,
                            "source": {"kind": "occupancy", "file": "datatest2.txt",
                                       "warmup": "datatraining.txt"}}}]

    def summary(self, ctx):
        bodies = [r["body"] for r in ctx.stack.coordinator.results(task=self.name, limit=1_000_000)]
        metrics = [b for b in bodies if b.get("kind") == "metrics" and "prequential_accuracy" in b]
        if not metrics:
            return f"{len(bodies)} records"
        last = metrics[-1]
        return (f"{len(bodies)} records, {last['samples_seen']} samples learned one at a time, "
                f"prequential accuracy {last['prequential_accuracy']:.3f}")


class FederatedRounds(Workload):
    name, role = "fl", "fl"
    needs = ("cloud_sync.fl.session", "edge_runtime.online.fl_task")
    tick_every_s = 4.0
    STRATEGY = "tinymetafed"

    def setup(self, ctx: DemoContext) -> None:
        from cloud_sync.fl import make_strategy
        from cloud_sync.fl.session import FederatedSession

        fsdd = ctx.shared_data is not None and (ctx.shared_data / "fsdd").is_dir()
        self.task = "fsdd" if fsdd else "sine"
        self.session = FederatedSession(self.task, {}, make_strategy(self.STRATEGY), seed=ctx.seed)
        self.data_devices = self.session.experiment.device_ids()
        self.out_dir = ctx.workdir / "fl"
        self.rounds_done = 0

    def tasks_for(self, device, index, ctx):
        data_device = self.data_devices[index % len(self.data_devices)]
        return [{"kind": "fl_client", "name": self.name, "interval_s": 0,
                 "params": {"experiment": self.task, "data_device": data_device, "seed": ctx.seed}}]

    def tick(self, ctx: DemoContext) -> None:
        """One more round, resumed from the persisted round state."""
        devices = [d.device_id for d in ctx.with_role(self.role)]
        online = {d["device_id"] for d in ctx.stack.coordinator.devices() if d["online"]}
        participants = [d for d in devices if d in online]
        if not participants:
            return
        self.session.run(self.rounds_done + 1, len(participants), coordinator=ctx.stack.coordinator,
                         device_ids=participants, state_dir=self.out_dir, task_name=self.name,
                         eval_every=1, progress=False, deadline_s=15.0, wait_online_s=5.0,
                         fleet_graph=ctx.stack.fleet_graph)
        self.rounds_done += 1
        self._publish_round(ctx, self.out_dir / "rounds.jsonl")

    def _publish_round(self, ctx: DemoContext, rounds_file: Path) -> None:
        lines = rounds_file.read_text().splitlines() if rounds_file.exists() else []
        if not lines:
            return
        record = json.loads(lines[-1])
        evaluation = record.get("eval") or {}
        metric = next((v for k, v in evaluation.items() if isinstance(v, (int, float))), None)
        ctx.stack.activity.record("fl", {
            "round": record["round"], "strategy": self.STRATEGY, "task": self.task,
            "participants": record.get("answered", []), "metric": metric,
            "metric_name": next(iter(evaluation), None),
            # every figure, so the dashboard can draw accuracy before and after adaptation
            "eval": {k: v for k, v in evaluation.items() if isinstance(v, (int, float)) and not isinstance(v, bool)},
            "bytes": record.get("bytes_down", 0) + record.get("bytes_up", 0)})

    def summary(self, ctx: DemoContext) -> str:
        rounds = ctx.stack.activity.recent("fl", limit=1)
        if not rounds:
            return "no round finished yet"
        last = rounds[-1]
        return (f"{self.rounds_done} {self.STRATEGY} rounds on {self.task}, "
                f"{last['metric_name']} {last['metric']:.3f}, {last['bytes']} bytes in the last round")

    def stored(self, ctx: DemoContext) -> int:
        """Rounds are cloud-side records: the activity log, not device results."""
        return ctx.stack.activity.count("fl")

    def in_graph(self, ctx: DemoContext, graph_results: dict[str, int]) -> int:
        if ctx.stack.graph_store is None:
            return 0
        rows = ctx.stack.graph_store.query(FL_ROUNDS)
        return int(rows[0]["rounds"]) if rows else 0


FL_ROUNDS = """PREFIX er: <https://w3id.org/edge-runtime/ns#>
SELECT (COUNT(DISTINCT ?round) AS ?rounds) WHERE { ?round a er:FLRound . ?device er:participatedIn ?round }"""
