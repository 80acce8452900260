"""Running mean/variance (Welford, merged per batch with Chan's formula).

On a device the input distribution drifts (a new season, a moved sensor), and there
is no data set to compute statistics from up front; the learner standardises each
sample with the statistics of everything seen so far, updated in O(features).
"""
from __future__ import annotations

import numpy as np


class RunningStandardizer:
    """Per-feature running mean and variance; ``transform`` gives (x - mean) / std."""

    def __init__(self, n_features: int, eps: float = 1e-6):
        self.n_features = n_features
        self.count = 0
        self.mean = np.zeros(n_features, np.float64)
        self.m2 = np.zeros(n_features, np.float64)
        self.eps = eps

    def update(self, x: np.ndarray) -> None:
        """Fold one sample (1-D) or a batch (2-D) into the statistics."""
        x = np.asarray(x, np.float64).reshape(-1, self.n_features)
        n_b = x.shape[0]
        if n_b == 0:
            return
        mean_b = x.mean(axis=0)
        m2_b = ((x - mean_b) ** 2).sum(axis=0)
        total = self.count + n_b
        delta = mean_b - self.mean
        self.mean += delta * (n_b / total)
        self.m2 += m2_b + delta * delta * (self.count * n_b / total)
        self.count = total

    @property
    def std(self) -> np.ndarray:
        if self.count < 2:
            return np.ones(self.n_features)
        return np.sqrt(self.m2 / (self.count - 1)) + self.eps

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float64) - self.mean) / self.std).astype(np.float32)

    @property
    def state_bytes(self) -> int:
        return int(self.mean.nbytes + self.m2.nbytes + 8)

    def to_dict(self) -> dict:
        return {"count": self.count, "mean": self.mean.tolist(), "m2": self.m2.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "RunningStandardizer":
        s = cls(len(d["mean"]))
        s.count = int(d["count"])
        s.mean[:] = d["mean"]
        s.m2[:] = d["m2"]
        return s
