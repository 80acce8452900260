"""What a federated experiment is: a model, devices with their own data, and an evaluation.

The device side (``FederatedClient``) needs ``make_network`` and ``device_task``; the
coordinator side needs ``make_network`` (for θ₀), ``device_ids`` and ``evaluate``.
Evaluation is always *after adaptation*: start from θ, take a few SGD steps on a
few labelled samples of an unseen task/device, then measure — the meta-learning
question "how good a starting point is θ".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from edge_runtime.online.network import Network


@dataclass
class LocalData:
    """One round's local data of one device: the pool its k SGD steps draw batches from."""

    x: np.ndarray
    y: np.ndarray

    def batches(self, steps: int, batch_size: int, rng: np.random.Generator):
        """``steps`` (x, y) batches, cycling through shuffled data (batch 1 = one sample per step)."""
        n = len(self.x)
        order = np.concatenate([rng.permutation(n) for _ in range(int(np.ceil(steps * batch_size / n)) + 1)])
        for s in range(steps):
            idx = order[s * batch_size:(s + 1) * batch_size]
            yield self.x[idx], self.y[idx]


class Experiment:
    """Base class; subclasses define the data, the model and the adaptation protocol."""

    name: ClassVar[str] = "experiment"
    metric: ClassVar[str] = "accuracy"          # key of evaluate()'s main figure
    higher_is_better: ClassVar[bool] = True
    local_params: ClassVar[tuple[str, ...]] = ()  # TinyMetaFed: names kept on the device
    # parameters every local task starts from zero (an N-way head whose labels are task-local):
    # a device that kept a previous task's head would learn features for the wrong label map
    task_local: tuple[str, ...] = ()
    # adaptation protocol used by evaluate() and by default client hyper-parameters
    adapt_steps: int = 32
    adapt_lr: float = 0.01
    adapt_batch: int = 10

    def make_network(self, seed: int = 0) -> Network:
        raise NotImplementedError

    def device_ids(self) -> list[str]:
        raise NotImplementedError

    def device_task(self, device_id: str, rng: np.random.Generator) -> LocalData:
        """The data a device trains on in one round (a fresh task for few-shot experiments)."""
        raise NotImplementedError

    def evaluate(self, theta: np.ndarray, seed: int = 0) -> dict[str, float]:
        raise NotImplementedError

    def describe(self) -> dict:
        net = self.make_network()
        return {"experiment": self.name, "metric": self.metric, "n_params": net.n_params,
                "devices": len(self.device_ids()), "adapt_steps": self.adapt_steps,
                "adapt_lr": self.adapt_lr, "adapt_batch": self.adapt_batch}


def adapt(net: Network, theta: np.ndarray, data: LocalData, steps: int, lr: float, batch_size: int,
          rng: np.random.Generator, clip: float | None = 10.0) -> Network:
    """Load θ into ``net`` and fine-tune it on ``data``; returns ``net``."""
    net.set_flat(theta)
    for xb, yb in data.batches(steps, batch_size, rng):
        net.sgd_step(xb, yb, lr, clip=clip)
    return net


def zero_output_layer(net: Network) -> Network:
    """Zero the last layer: a label-symmetric start for N-way few-shot heads (labels are task-local)."""
    last = [k for k in net.param_slices if k.startswith(net.layers[-1].name)]
    for key in last:
        net.params[net.param_slices[key]] = 0.0
    return net


class PerDeviceSamples:
    """Mixin for experiments where each device holds its own labelled set ``self.data``
    (``{device id: (x, y)}``) and trains each round on ``samples_per_round`` drawn from it."""

    data: dict
    samples_per_round: int

    def device_ids(self) -> list[str]:
        return sorted(self.data)

    def device_task(self, device_id: str, rng: np.random.Generator) -> LocalData:
        x, y = self.data[device_id]
        idx = rng.choice(len(x), size=min(self.samples_per_round, len(x)), replace=False)
        return LocalData(x[idx], y[idx])

