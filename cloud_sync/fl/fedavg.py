"""FedAvg (McMahan et al. 2017): several devices per round, minibatch local SGD,
θ ← sample-weighted average of the devices' models. The batched baseline."""
from __future__ import annotations

from cloud_sync.fl.strategy import Strategy


class FedAvg(Strategy):
    name = "fedavg"
    defaults = {"clients_per_round": 5, "batch_size": 10, "beta": 1.0, "beta_final": 1.0}

    def aggregate(self, round_idx, theta, shared_mask, replies, selected=None):
        step = self.mean_update(replies, int(shared_mask.sum()), selected, weighted=True)
        return theta if step is None else self.apply(theta, shared_mask, self.config.beta * step)
