"""Batched Reptile (Nichol et al. 2018): several devices per round each adapt to their
own task with minibatch SGD; θ ← θ + β · mean(φᵢ − θ), β decaying."""
from __future__ import annotations

from cloud_sync.fl.strategy import Strategy


class Reptile(Strategy):
    name = "reptile"
    defaults = {"clients_per_round": 5, "batch_size": 10, "beta": 1.0, "beta_final": 0.0}

    def aggregate(self, round_idx, theta, shared_mask, replies, selected=None):
        step = self.mean_update(replies, int(shared_mask.sum()), selected, weighted=False)
        return theta if step is None else self.apply(theta, shared_mask, self.beta_at(round_idx) * step)
