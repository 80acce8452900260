"""One federated run end to end: experiment → θ₀ → fleet (simulated or MQTT) → rounds → files.

Kept apart from the CLI so tests and notebooks run exactly what ``cloud-sync fl run``
runs. Outputs in ``out_dir``: ``rounds.jsonl`` (one JSON object per round, appended as
rounds finish), ``summary.json`` and ``learning_curve.png``.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from cloud_sync.fl.fleet import InProcessFleet
from cloud_sync.fl.report import curve_points, plot_learning_curves
from cloud_sync.fl.runner import run_federated, shared_mask_for
from cloud_sync.fl.state import RoundStore
from cloud_sync.fl.strategy import Strategy
from edge_runtime.online.experiments import build_experiment
from edge_runtime.online.fl_client import FederatedClient

log = logging.getLogger("cloud_sync.fl.session")


class FederatedSession:
    def __init__(self, task: str, params: dict[str, Any], strategy: Strategy, seed: int = 0):
        self.task, self.params, self.strategy, self.seed = task, dict(params), strategy, seed
        self.experiment = build_experiment(task, **self.params)
        strategy.adopt_experiment_defaults(self.experiment.local_params)

    def simulated_fleet(self, n_devices: int) -> InProcessFleet:
        ids = self.experiment.device_ids()[:n_devices]
        if len(ids) < n_devices:
            raise ValueError(f"experiment {self.task!r} has {len(ids)} devices' data, {n_devices} requested")
        return InProcessFleet({d: FederatedClient(self.experiment, d, self.seed).handle for d in ids}, seed=self.seed)

    def run(self, rounds: int, n_devices: int, *, broker: str | None = None, data_dir: Path = Path("var"),
            state_dir: Path | None = None, out_dir: Path | None = None, task_name: str = "fl",
            deadline_s: float = 60.0, fresh: bool = False, wait_online_s: float = 60.0,
            eval_every: int = 0, progress: bool = True, fleet_graph=None,
            requirements: dict[str, Any] | None = None, coordinator=None,
            device_ids: list[str] | None = None, max_message: int | None = None) -> dict[str, Any]:
        """Run (or resume) the rounds. ``fleet_graph`` (``ontology.live.FleetGraph``): rounds and
        participation are recorded in it, and with ``requirements`` (``capable_devices`` keyword
        arguments, e.g. ``{"min_ram_bytes": 65536}``) MQTT devices are selected through its queries.
        ``coordinator``: a running coordinator to use (and leave running) instead of ``broker``;
        ``device_ids``: only these devices may take part (those that run the FL client task).
        ``max_message``: MQTT payload limit per message (default 256 KiB); larger θ and updates
        travel in parts."""
        state_dir = Path(state_dir or Path(data_dir) / "fl" / f"{self.task}-{self.strategy.name}")
        out_dir = Path(out_dir or state_dir)
        if fresh and state_dir.exists():
            shutil.rmtree(state_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        store = RoundStore(state_dir)
        net = self.experiment.make_network(self.seed)
        rounds_file = out_dir / "rounds.jsonl"
        if fresh or store.load() is None:
            rounds_file.unlink(missing_ok=True)

        run_id = state_dir.name

        def on_round(record: dict) -> None:
            with rounds_file.open("a") as fh:
                fh.write(json.dumps(record) + "\n")
            if fleet_graph is not None:
                _record_in_graph(fleet_graph, run_id, self.strategy.name, record)

        owned = None
        try:
            if broker or coordinator is not None:
                from cloud_sync.coordinator import Coordinator
                from cloud_sync.fl.mqtt_fleet import MqttFleet
                from edge_runtime.waiting import wait_until

                if coordinator is None:
                    coordinator = owned = Coordinator(broker, data_dir, replica_id=f"fl-{self.task}")
                    broker_name = broker
                else:
                    broker_name = coordinator.broker_url
                if requirements and fleet_graph is None:  # a graph of this coordinator's fleet, for selection
                    fleet_graph = _live_graph().attach(coordinator)
                if owned is not None:
                    owned.start(wait_s=15)
                fleet = MqttFleet(coordinator, graph_store=fleet_graph.store if requirements else None,
                                  requirements=requirements, **({"max_message": max_message} if max_message else {}))
                self.last_fleet = fleet
                if device_ids:
                    fleet.only = set(device_ids)
                wait_until(lambda: len(fleet.available()) >= n_devices, wait_online_s,
                           what=f"{n_devices} online devices on {broker_name}")
                fleet.only = set(fleet.available()[:n_devices])
            else:
                fleet = self.simulated_fleet(n_devices)
            theta, history = run_federated(
                self.strategy, fleet, net.get_flat(), shared_mask_for(net, self.strategy), rounds,
                evaluate=lambda th: self.experiment.evaluate(th, self.seed),
                eval_every=eval_every or max(1, rounds // 10), task_name=task_name, deadline_s=deadline_s,
                store=store, settings={"task": self.task, "params": _jsonable(self.params)},
                seed=self.seed, progress=progress, on_round=on_round)
        finally:
            if owned is not None:
                owned.stop()
        metric = self.experiment.metric
        points = curve_points(history)
        summary = {"task": self.task, "strategy": self.strategy.name, "config": self.strategy.config.to_dict(),
                   "rounds": len(history), "mode": "mqtt" if broker or coordinator is not None else "simulation",
                   "final": {"round": history[-1]["round"], **history[-1].get("eval", {})} if history else {},
                   "bytes_total": sum(h["bytes_down"] + h["bytes_up"] for h in history),
                   "client_updates": sum(len(h["answered"]) for h in history), "curve": points}
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
        if points:
            plot_learning_curves({self.strategy.name: points}, metric, out_dir / "learning_curve.png",
                                 f"{self.task}: {self.strategy.name}")
        return summary


def _live_graph():
    """An in-memory fleet graph (ontology package), fed by the coordinator's events."""
    try:
        from ontology.live import FleetGraph
        from ontology.store import GraphStore
    except ImportError as exc:
        raise ValueError(f"device requirements need the ontology package ({exc}); "
                         f"install the 'cloud' extra or drop the requirements") from None
    return FleetGraph(GraphStore.open(None))


def _record_in_graph(fleet_graph, run_id: str, strategy: str, record: dict) -> None:
    """FL rounds and participation as observations in the fleet graph; never breaks a run."""
    try:
        fleet_graph.fl_round(run_id, record["round"], strategy)
        for device in record["answered"]:
            fleet_graph.fl_participation(run_id, record["round"], device,
                                         {"bytes_up": record["bytes_up"] / max(1, len(record["answered"])),
                                          **{k: v for k, v in record.get("eval", {}).items()
                                             if isinstance(v, (int, float))}})
    except Exception as exc:  # the graph is a view; the run goes on
        log.warning("could not record FL round %s in the fleet graph: %s", record["round"], exc)


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in params.items()}
