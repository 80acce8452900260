"""On-device online learning (the TinyOL idea): frozen backbone → features → trainable head.

The backbone (a LiteRT/ONNX model, or none for raw sensor features) is never
trained on the device; only the small head is, one sample at a time (SGD, batch 1),
on inputs standardised with running statistics. Learning is *prequential*: each
sample is first predicted, then learnt from, so the returned predictions are an
honest running test score. Streams are processed sample by sample on purpose: that
is the device's situation (each update changes the next prediction).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from edge_runtime.online.network import Network
from edge_runtime.online.standardize import RunningStandardizer

Backbone = Callable[[np.ndarray], np.ndarray]


class OnlineLearner:
    """A trainable head over (optional) frozen backbone features, updated one sample at a time."""

    def __init__(self, head: Network, n_features: int, lr: float = 0.01,
                 backbone: Backbone | None = None, standardize: bool = True,
                 clip: float | None = 5.0):
        self.head = head
        self.backbone = backbone
        self.lr = lr
        self.clip = clip
        self.scaler = RunningStandardizer(n_features) if standardize else None
        self.adapt_statistics = True
        self.n_updates = 0

    # -- features -----------------------------------------------------------------------------
    def features(self, batch: np.ndarray) -> np.ndarray:
        """Flat float32 features of a batch (first axis = samples)."""
        batch = np.asarray(batch, np.float32)
        feats = self.backbone(batch) if self.backbone is not None else batch
        return np.asarray(feats, np.float32).reshape(len(batch), -1)

    def _inputs(self, feats: np.ndarray) -> np.ndarray:
        return self.scaler.transform(feats) if self.scaler is not None else feats

    # -- inference / learning -----------------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.head.predict(self._inputs(self.features(x)))

    def learn_one(self, x: np.ndarray, y) -> np.ndarray:
        """Predict one sample, then update statistics and the head with it; returns the prediction."""
        feats = self.features(np.asarray(x)[None])
        if self.scaler is not None and self.adapt_statistics:
            self.scaler.update(feats)
        z = self._inputs(feats)
        prediction = self.head.predict(z)
        self.head.sgd_step(z, np.asarray([y]) if np.ndim(y) == 0 else np.asarray(y)[None], self.lr, clip=self.clip)
        self.n_updates += 1
        return prediction[0]

    def learn_stream(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Prequential pass over a stream; returns the prediction made before each update."""
        return np.stack([self.learn_one(x, y) for x, y in zip(xs, ys)])

    def fit(self, xs: np.ndarray, ys: np.ndarray, epochs: int = 1, seed: int = 0) -> None:
        """Initial (cloud or first-deployment) training: statistics from all of ``xs``, shuffled batch-1 epochs."""
        feats = self.features(xs)
        if self.scaler is not None:
            self.scaler.update(feats)
        z = self._inputs(feats)
        rng = np.random.default_rng(seed)
        for _ in range(epochs):
            for i in rng.permutation(len(z)):
                self.head.sgd_step(z[i:i + 1], ys[i:i + 1], self.lr, clip=self.clip)
        self.n_updates += epochs * len(z)

    def add_class(self) -> int:
        """Grow the head by one output; returns the new class's label."""
        self.head.add_outputs(1)
        return self.head.n_outputs - 1

    @property
    def trainable_state_bytes(self) -> int:
        """Memory that learning needs on the device: head parameters + gradients + running statistics."""
        return self.head.trainable_bytes + (self.scaler.state_bytes if self.scaler is not None else 0)


class OnlineAutoencoder:
    """Unsupervised variant: an autoencoder learnt online; its reconstruction error is the anomaly score.

    Scores are standardised against the running statistics of the scores seen so far,
    so ``threshold`` is in standard deviations and needs no labelled data.
    """

    def __init__(self, n_features: int, hidden: Sequence[int] = (8,), lr: float = 0.01,
                 threshold: float = 3.0, seed: int = 0, backbone: Backbone | None = None):
        sizes = [n_features, *hidden, n_features]
        self.learner = OnlineLearner(Network.mlp(sizes, loss="mse", activation="tanh", seed=seed),
                                     n_features, lr=lr, backbone=backbone)
        self.scores = RunningStandardizer(1)
        self.threshold = threshold

    def score(self, x: np.ndarray) -> np.ndarray:
        """Reconstruction MSE per sample (no learning)."""
        z = self.learner._inputs(self.learner.features(x))
        recon = self.learner.head.forward(z)
        return np.mean((recon - z) ** 2, axis=1)

    def learn_one(self, x: np.ndarray) -> tuple[float, bool]:
        """Score one sample (before learning from it), then learn; returns (score, is_anomaly)."""
        learner = self.learner
        feats = learner.features(np.asarray(x)[None])
        if learner.scaler is not None and learner.adapt_statistics:
            learner.scaler.update(feats)
        z = learner._inputs(feats)
        value = float(np.mean((learner.head.forward(z) - z) ** 2))
        anomalous = self.scores.count > 10 and (value - self.scores.mean[0]) / self.scores.std[0] > self.threshold
        if not anomalous:  # learn "normal" only, so anomalies stay surprising
            learner.head.sgd_step(z, z, learner.lr, clip=learner.clip)
            self.scores.update(np.array([value]))
        return value, bool(anomalous)

    @property
    def trainable_state_bytes(self) -> int:
        return self.learner.trainable_state_bytes + self.scores.state_bytes
