"""Classification experiments with the same labels on every device (keyword audio, presence).

Each device owns a labelled data set; a round trains on a random draw of
``samples_per_round`` of it. Subclasses say how adaptation is evaluated.
"""
from __future__ import annotations

import numpy as np

from edge_runtime.online.experiments.base import Experiment, LocalData, PerDeviceSamples, adapt
from edge_runtime.online.network import Network


class DeviceClassification(PerDeviceSamples, Experiment):
    """Devices with fixed-label data; inputs standardised with statistics of the training devices."""

    def __init__(self, device_data: dict[str, tuple[np.ndarray, np.ndarray]], n_classes: int,
                 hidden: tuple[int, ...] = (64,), samples_per_round: int = 64):
        if not device_data:
            raise ValueError("a classification experiment needs at least one device with data")
        stacked = np.concatenate([x for x, _ in device_data.values()])
        self.mean, self.std = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6
        self.data = {d: (self.standardise(x), np.asarray(y, np.int64)) for d, (x, y) in device_data.items()}
        self.n_features, self.n_classes, self.hidden = stacked.shape[1], n_classes, hidden
        self.samples_per_round = samples_per_round

    def standardise(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float32) - self.mean) / self.std).astype(np.float32)

    def make_network(self, seed: int = 0) -> Network:
        return Network.mlp([self.n_features, *self.hidden, self.n_classes], loss="ce", seed=seed)


class KeywordAudio(DeviceClassification):
    """FSDD: speaker = device; the held-out speaker adapts on ``shots`` takes per digit, then is tested
    on all of its other takes."""

    name = "fsdd"

    def __init__(self, held_out: str = "george", shots: int = 10, root=None, max_take: int = 50,
                 samples_per_round: int = 64):
        from edge_runtime.online.datasets.fsdd import load_fsdd

        feats = load_fsdd(root, max_take=max_take)
        speakers = sorted(set(feats.speaker.tolist()))
        if held_out not in speakers:
            raise ValueError(f"held-out speaker {held_out!r} not in FSDD speakers {speakers}")
        super().__init__({s: (feats.x[feats.speaker == s], feats.digit[feats.speaker == s])
                          for s in speakers if s != held_out}, n_classes=10, samples_per_round=samples_per_round)
        own = feats.speaker == held_out
        adapt_mask = own & (feats.take >= 5) & (feats.take < 5 + shots)
        test_mask = own & ~adapt_mask
        self.adapt_set = LocalData(self.standardise(feats.x[adapt_mask]), feats.digit[adapt_mask])
        self.test_x, self.test_y = self.standardise(feats.x[test_mask]), feats.digit[test_mask]
        self.held_out = held_out
        self.adapt_steps, self.adapt_lr, self.adapt_batch = 200, 0.1, 10

    def evaluate(self, theta: np.ndarray, seed: int = 0) -> dict[str, float]:
        net = self.make_network()
        net.set_flat(theta)
        before = net.evaluate(self.test_x, self.test_y)["accuracy"]
        adapt(net, theta, self.adapt_set, self.adapt_steps, self.adapt_lr, self.adapt_batch,
              np.random.default_rng(seed))
        return {"accuracy": net.evaluate(self.test_x, self.test_y)["accuracy"], "accuracy_before_adaptation": before}


class Presence(DeviceClassification):
    """UCI occupancy: the first week's days are the devices; evaluation streams the later week
    through an online learner started from θ (prequential accuracy) and compares the static θ."""

    name = "occupancy"

    def __init__(self, root=None, online_lr: float = 0.01, samples_per_round: int = 64):
        from edge_runtime.online.datasets.occupancy import LATER_WEEK, load_occupancy

        first = load_occupancy(root=root)
        days = first.days
        super().__init__({str(d): (first.x[days == d], first.y[days == d]) for d in np.unique(days)},
                         n_classes=2, hidden=(16,), samples_per_round=samples_per_round)
        self.first_x = first.x
        self.later = load_occupancy(LATER_WEEK, root=root)
        self.online_lr = online_lr
        self.adapt_lr, self.adapt_batch = online_lr, 1

    def evaluate(self, theta: np.ndarray, seed: int = 0) -> dict[str, float]:
        from edge_runtime.online.learner import OnlineLearner

        net = self.make_network()
        net.set_flat(theta)
        learner = OnlineLearner(net, self.n_features, lr=self.online_lr)
        learner.scaler.update(self.first_x)  # deployed with the first week's calibration
        static = float(np.mean(learner.predict(self.later.x) == self.later.y))
        online = float(np.mean(learner.learn_stream(self.later.x, self.later.y) == self.later.y))
        return {"accuracy": online, "static_accuracy": static}
