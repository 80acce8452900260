"""Agent task ``fl_client``: this device's part of federated rounds requested by the coordinator.

Config (device YAML)::

    tasks:
      - kind: fl_client
        name: fl
        params: {experiment: sine, experiment_params: {n_devices: 3}, data_device: sine-000}

``data_device`` picks whose data this device trains on (in a real fleet: its own
sensor stream; here a partition of the experiment's data). ``handle`` gets the
round request (see ``edge_runtime.online.fl_client``) and returns the update.
"""
from __future__ import annotations

from typing import Any

from edge_runtime.agent.task import Task
from edge_runtime.online.experiments import build_experiment
from edge_runtime.online.fl_client import FederatedClient


class FederatedClientTask(Task):
    kind = "fl_client"

    def __init__(self, name, params, context):
        super().__init__(name, params, context)
        if "experiment" not in self.params:
            raise ValueError(f"fl_client task {name!r}: params.experiment is required "
                             f"(one of sine, digits, omniglot, fsdd, occupancy)")
        experiment = build_experiment(self.params["experiment"], **self.params.get("experiment_params", {}))
        data_device = self.params.get("data_device") or context.device_id
        self.client = FederatedClient(experiment, data_device, seed=int(self.params.get("seed", 0)))
        self.last_round: Any = None

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        reply = self.client.handle(request)
        self.last_round = request.get("round")
        return reply

    def status(self) -> dict[str, Any]:
        return {"experiment": self.client.experiment.name, "data_device": self.client.device_id,
                "rounds_done": self.client.rounds_done, "last_round": self.last_round,
                "trainable_bytes": self.client.net.trainable_bytes}
