"""Sine-wave few-shot regression (Finn et al. 2017; TinyReptile's first experiment).

Each device owns one task y = A sin(x - φ), A ∈ [0.1, 5], φ ∈ [0, π], x ∈ [-5, 5],
and sees fresh samples of it each round. Evaluation: an unseen task, 10 shots,
32 full-batch SGD steps, MSE on a 50-point grid over [-5, 5] (mean over tasks).
"""
from __future__ import annotations

import numpy as np

from edge_runtime.online.experiments.base import Experiment, LocalData, adapt
from edge_runtime.online.network import Network


class SineExperiment(Experiment):
    name = "sine"
    metric = "mse"
    higher_is_better = False
    local_params = ()  # every layer is shared: a regression head has no task-local labels

    def __init__(self, n_devices: int = 100, samples_per_round: int = 10, shots: int = 10,
                 n_eval_tasks: int = 100, hidden: int = 64, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.amplitude = rng.uniform(0.1, 5.0, n_devices)
        self.phase = rng.uniform(0.0, np.pi, n_devices)
        self.samples_per_round = samples_per_round
        self.shots, self.n_eval_tasks, self.hidden = shots, n_eval_tasks, hidden
        self.adapt_steps, self.adapt_lr, self.adapt_batch = 32, 0.02, shots
        self._ids = [f"sine-{i:03d}" for i in range(n_devices)]

    def make_network(self, seed: int = 0) -> Network:
        return Network.mlp([1, self.hidden, self.hidden, 1], loss="mse", activation="tanh", seed=seed)

    def device_ids(self) -> list[str]:
        return list(self._ids)

    def device_task(self, device_id: str, rng: np.random.Generator) -> LocalData:
        i = self._ids.index(device_id)
        x = rng.uniform(-5, 5, (self.samples_per_round, 1)).astype(np.float32)
        return LocalData(x, (self.amplitude[i] * np.sin(x - self.phase[i])).astype(np.float32))

    def evaluate(self, theta: np.ndarray, seed: int = 0) -> dict[str, float]:
        rng = np.random.default_rng(10_000 + seed)
        net = self.make_network()
        grid = np.linspace(-5, 5, 50, dtype=np.float32)[:, None]
        errors = []
        for _ in range(self.n_eval_tasks):
            a, p = rng.uniform(0.1, 5.0), rng.uniform(0.0, np.pi)
            x = rng.uniform(-5, 5, (self.shots, 1)).astype(np.float32)
            adapt(net, theta, LocalData(x, (a * np.sin(x - p)).astype(np.float32)),
                  self.adapt_steps, self.adapt_lr, self.adapt_batch, rng)
            errors.append(float(np.mean((net.forward(grid)[:, 0] - a * np.sin(grid[:, 0] - p)) ** 2)))
        return {"mse": float(np.mean(errors)), "mse_std": float(np.std(errors))}
