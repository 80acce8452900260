"""N-way K-shot classification over feature vectors (Omniglot through a frozen backbone; sklearn
digits for fast tests).

A device owns a group of classes (an alphabet) and each round draws a fresh N-way
task from its *training* classes with labels shuffled, so only a good *starting
point* can be learnt, not a fixed label map. The output layer is therefore
task-local: it starts from zero in every adaptation (and is TinyMetaFed's
device-local part). Evaluation: episodes over held-out classes, K support shots,
``adapt_steps`` SGD steps, accuracy on the remaining query samples.
"""
from __future__ import annotations

import numpy as np

from edge_runtime.online.experiments.base import Experiment, LocalData, adapt, zero_output_layer
from edge_runtime.online.network import Network


class FewShotClassification(Experiment):
    local_params = ("dense1",)  # the N-way output layer of a one-hidden-layer head

    def __init__(self, features: np.ndarray, classes: np.ndarray, groups: np.ndarray, test_classes: np.ndarray,
                 name: str, n_way: int = 5, k_shot: int = 5, hidden: int = 64, eval_episodes: int = 100,
                 samples_per_class: int | None = None):
        self.name = name  # type: ignore[misc]
        feats = np.asarray(features, np.float32)
        train = ~np.isin(classes, test_classes)
        self.mean, self.std = feats[train].mean(axis=0), feats[train].std(axis=0) + 1e-6
        self.x = (feats - self.mean) / self.std
        self.classes = np.asarray(classes)
        self.n_way, self.k_shot, self.hidden, self.eval_episodes = n_way, k_shot, hidden, eval_episodes
        self.samples_per_class = samples_per_class
        self.by_class = {int(c): np.flatnonzero(self.classes == c) for c in np.unique(self.classes)}
        self.device_classes = {str(g): sorted({int(c) for c in self.classes[(groups == g) & train]})
                               for g in np.unique(groups[train])}
        self.device_classes = {g: cs for g, cs in self.device_classes.items() if len(cs) >= n_way}
        self.test_classes = sorted(int(c) for c in np.unique(test_classes))
        if len(self.test_classes) < n_way or not self.device_classes:
            raise ValueError(f"{name}: need ≥{n_way} test classes and a device with ≥{n_way} training classes")
        self.adapt_steps, self.adapt_lr, self.adapt_batch = 50, 0.05, n_way * k_shot

    def make_network(self, seed: int = 0) -> Network:
        return zero_output_layer(Network.mlp([self.x.shape[1], self.hidden, self.n_way], loss="ce", seed=seed))

    def device_ids(self) -> list[str]:
        return sorted(self.device_classes)

    def _task(self, pool: list[int], shots: int | None, rng: np.random.Generator, n_way: int | None = None):
        chosen = rng.choice(pool, size=min(n_way or self.n_way, len(pool)), replace=False)
        picks = [rng.permutation(self.by_class[int(c)]) for c in chosen]
        if shots is not None:
            picks = [p[:shots] for p in picks]
        idx = np.concatenate(picks)
        labels = np.concatenate([np.full(len(p), i) for i, p in enumerate(picks)])
        return idx, labels, chosen

    def device_task(self, device_id: str, rng: np.random.Generator) -> LocalData:
        idx, labels, _ = self._task(self.device_classes[device_id], self.samples_per_class, rng)
        return LocalData(self.x[idx], labels)

    def adaptation_start(self, theta: np.ndarray) -> tuple[Network, np.ndarray]:
        """The N-way network a held-out task adapts, and its start: θ with the task-local output
        layer zeroed (labels are task-local)."""
        net = self.make_network()
        start = theta.copy()
        start[net.mask_for(self.local_params)] = 0.0
        return net, start

    def init_task_head(self, net: Network, data: LocalData) -> None:
        """Start of a new task's N-way head (here: the zeroed one ``adaptation_start`` left)."""

    def evaluate(self, theta: np.ndarray, seed: int = 0, k_shot: int | None = None) -> dict[str, float]:
        """Mean query accuracy over ``eval_episodes`` held-out N-way tasks, each adapted from θ on
        ``k_shot`` (default: the experiment's) support samples per class with the same budget."""
        k_shot = int(k_shot or self.k_shot)
        rng = np.random.default_rng(20_000 + seed)
        net, start = self.adaptation_start(theta)
        accs = []
        for _ in range(self.eval_episodes):
            chosen = rng.choice(self.test_classes, size=self.n_way, replace=False)
            perms = [rng.permutation(self.by_class[int(c)]) for c in chosen]
            support = np.concatenate([p[:k_shot] for p in perms])
            query = np.concatenate([p[k_shot:] for p in perms])
            s_lab = np.repeat(np.arange(self.n_way), k_shot)
            q_lab = np.concatenate([np.full(len(p) - k_shot, i) for i, p in enumerate(perms)])
            support_data = LocalData(self.x[support], s_lab)
            net.set_flat(start)
            self.init_task_head(net, support_data)
            adapt(net, net.get_flat(), support_data, self.adapt_steps, self.adapt_lr,
                  min(self.adapt_batch, len(support)), rng)
            accs.append(float(np.mean(net.predict(self.x[query]) == q_lab)))
        return {"accuracy": float(np.mean(accs)), "accuracy_std": float(np.std(accs)),
                "episodes": self.eval_episodes, "n_way": self.n_way, "k_shot": k_shot}


def digits_experiment(n_devices: int = 5, **kwargs) -> FewShotClassification:
    """sklearn's bundled 8×8 digits: classes 0–4 for meta-training spread over devices, 5–9 held out."""
    from sklearn.datasets import load_digits

    data = load_digits()
    groups = np.arange(len(data.target)) % n_devices
    return FewShotClassification(data.data / 16.0, data.target, groups.astype(str), np.arange(5, 10),
                                 name="digits", **kwargs)


def omniglot_experiment(backbone, root=None, held_out_share: float = 0.25, **kwargs) -> FewShotClassification:
    """Omniglot small splits through ``backbone`` (images → features); devices = alphabets; the last
    ``held_out_share`` of each alphabet's characters are never seen in training."""
    from edge_runtime.online.datasets.omniglot import load_omniglot

    data = load_omniglot(root)
    test = held_out_characters(data.names, held_out_share)
    feats = backbone(data.images[:, None, :, :])
    return FewShotClassification(feats, data.character, data.alphabet, test, name="omniglot", **kwargs)


def held_out_characters(names: list[str], share: float) -> np.ndarray:
    """Ids of the last ``share`` of characters of every alphabet (deterministic)."""
    by_alphabet: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        by_alphabet.setdefault(n.split("/")[0], []).append(i)
    out = [ids[len(ids) - max(1, int(round(len(ids) * share))):] for ids in by_alphabet.values()]
    return np.array(sorted(i for ids in out for i in ids))
