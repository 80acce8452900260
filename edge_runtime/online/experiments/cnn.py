"""Whole small CNNs meta-learned by the fleet and adapted on the device — no frozen backbone.

Two experiments where the shared starting point has to do the work, because every
weight (≈ 20 k of them, int8-exportable, parameters + gradients ≈ 160 KB float32) is
the fleet's and the device adapts all of them:

* ``omniglot_cnn``: N-way K-shot characters. Devices are *parts of alphabets* (each
  alphabet's characters dealt over ``devices_per_alphabet`` devices: non-IID by
  construction); two whole alphabets are held out (chosen by ``split``) and never enter
  a round. ``objective="supervised"`` makes the same fleet train the ordinary FL way
  (one label per training character) — the FedAvg and centralised baselines; the
  output layer is then thrown away and a zeroed N-way one adapted.
* ``fsdd_cnn``: spoken digits from a (time × mel) log-mel image; speaker = device; one
  held-out speaker (``split``) adapts on ``shots`` takes per digit, is tested on the rest.
  Labels are the same everywhere, so the output layer is shared.
"""
from __future__ import annotations

import itertools

import numpy as np

from edge_runtime.online.conv import conv_stack
from edge_runtime.online.experiments.base import Experiment, LocalData, PerDeviceSamples, adapt
from edge_runtime.online.experiments.fewshot import FewShotClassification
from edge_runtime.online.network import Network

OBJECTIVES = ("episodic", "supervised")


def cnn_network(height: int, width: int, channels: tuple[int, ...], n_out: int, seed: int = 0) -> Network:
    """Stride-2 3×3 ReLU convolutions on a (H, W, 1) image, then a dense output layer ``out``."""
    return Network(conv_stack(height, width, [1, *channels], n_out), loss="ce", seed=seed)


def training_flops(net: Network, batch: int) -> int:
    """FLOPs of one SGD step (forward + backward ≈ 3 × forward, 2 FLOPs per MAC)."""
    macs = sum(getattr(layer, "macs", getattr(layer, "n_params", 0)) for layer in net.layers)
    return int(6 * macs * batch)


class FewShotCnn(FewShotClassification):
    """N-way K-shot tasks for a whole small CNN: the shared machinery of ``OmniglotCnn`` and
    ``FsddKeywordCnn`` (supervised or episodic objective, prototype-initialised task head, any
    θ transferring into the N-way model). Subclasses load the data, call
    ``FewShotClassification.__init__`` and then ``_setup_cnn``."""

    local_params = ("out",)

    def _setup_cnn(self, flat: np.ndarray, classes: np.ndarray, test: np.ndarray, shape: tuple[int, int],
                   channels, objective: str, head_init: str, samples_per_round: int, adapt_steps: int,
                   adapt_lr: float, global_of=None) -> None:
        """``global_of(class id) -> label`` is the supervised objective's label (default: one per
        training class; FSDD uses the word, shared by every speaker)."""
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        mean, std = flat[~test].mean(), flat[~test].std()
        self.x = ((flat - mean) / std).astype(np.float32)  # one scale for the image, not per pixel
        self.height, self.width = shape
        self.channels, self.objective = tuple(channels), objective
        self.task_local = ("out",) if objective == "episodic" else ()
        if head_init not in ("zero", "prototypes"):
            raise ValueError(f"head_init must be 'zero' or 'prototypes', got {head_init!r}")
        self.head_init = head_init
        self.train_classes = np.unique(classes[~test])
        if global_of is None:
            self.global_label = {int(c): i for i, c in enumerate(self.train_classes)}
        else:
            names = sorted({global_of(int(c)) for c in self.train_classes})
            self.global_label = {int(c): names.index(global_of(int(c))) for c in self.train_classes}
        self.n_global = len(set(self.global_label.values()))
        self.samples_per_round = samples_per_round
        self.adapt_steps, self.adapt_lr, self.adapt_batch = adapt_steps, adapt_lr, self.n_way * self.k_shot

    def init_task_head(self, net: Network, data: LocalData) -> None:
        """``head_init="prototypes"`` (Proto-MAML, Triantafillou et al. 2020): the N-way head starts
        as the nearest-class-mean classifier of the support set's features — W_c = 2 p_c / s,
        b_c = −‖p_c‖² / s with s the mean squared feature norm — so the very first SGD step already
        moves the convolutions (from a zero head their gradient is zero). Same on the device's
        training tasks and in evaluation, for every method."""
        if self.head_init != "prototypes" or net.n_outputs not in (self.n_way, self.train_way):
            return
        h = np.asarray(data.x, np.float32)
        for layer in net.layers[:-1]:
            h = layer.forward(h)
        labels = np.asarray(data.y).reshape(-1)
        protos = np.stack([h[labels == c].mean(axis=0) if np.any(labels == c) else np.zeros(h.shape[1], np.float32)
                           for c in range(net.n_outputs)])
        scale = float(np.mean(np.sum(h * h, axis=1))) or 1.0
        net.named_params["out.W"][...] = 2.0 * protos.T / scale
        net.named_params["out.b"][...] = -np.sum(protos * protos, axis=1) / scale

    def make_network(self, seed: int = 0, n_out: int | None = None) -> Network:
        if n_out is None:
            n_out = self.train_way if self.objective == "episodic" else self.n_global
        return cnn_network(self.height, self.width, self.channels, n_out, seed)

    def device_task(self, device_id: str, rng: np.random.Generator) -> LocalData:
        if self.objective == "episodic":
            idx, labels, _ = self._task(self.device_classes[device_id], self.samples_per_class, rng, self.train_way)
            return LocalData(self.x[idx], labels)
        pool = np.concatenate([self.by_class[c] for c in self.device_classes[device_id]])
        idx = rng.choice(pool, size=min(self.samples_per_round, len(pool)), replace=False)
        return LocalData(self.x[idx], np.array([self.global_label[int(c)] for c in self.classes[idx]]))

    def pooled_data(self) -> LocalData:
        """Every training device's samples with global labels: what centralised pre-training sees."""
        idx = np.concatenate([self.by_class[int(c)] for c in self.train_classes])
        return LocalData(self.x[idx], np.array([self.global_label[int(c)] for c in self.classes[idx]]))

    def adaptation_start(self, theta: np.ndarray) -> tuple[Network, np.ndarray]:
        """An N-way network; θ of either objective (or of wider training tasks) transfers every layer
        but ``out`` (zeroed)."""
        net = self.make_network(n_out=self.n_way)
        if theta.size != net.n_params:
            out_in = net.named_params["out.W"].shape[0]  # features into the head
            source = self.make_network(n_out=(theta.size - net.n_params + self.n_way * (out_in + 1)) // (out_in + 1))
            source.set_flat(theta)
            for name, view in net.named_params.items():
                view[...] = 0.0 if name.startswith("out") else source.named_params[name]
            return net, net.get_flat()
        return super().adaptation_start(theta)


class OmniglotCnn(FewShotCnn):
    name = "omniglot_cnn"

    def __init__(self, root=None, split: int = 0, n_way: int = 5, k_shot: int = 5,
                 channels: tuple[int, ...] = (16, 32, 32, 32), size: int = 28, devices_per_alphabet: int = 2,
                 objective: str = "episodic", eval_episodes: int = 100, samples_per_round: int = 50,
                 samples_per_class: int | None = 10, adapt_steps: int = 20, adapt_lr: float = 0.1,
                 head_init: str = "zero", rotations: int = 1, train_way: int | None = None):
        from edge_runtime.online.datasets.omniglot import load_omniglot

        if rotations not in (1, 2, 4):
            raise ValueError(f"rotations must be 1, 2 or 4 (multiples of 90°/180°), got {rotations!r}")
        data = load_omniglot(root, size)
        alphabets = sorted(set(data.alphabet.tolist()))
        pairs = list(itertools.combinations(alphabets, 2))
        self.held_out_alphabets = list(pairs[(split * 11) % len(pairs)])  # 11 is coprime to 28: splits differ
        rank = _rank_within_alphabet(data.names)
        groups = np.array([f"{a}#{rank[c] % devices_per_alphabet}" for a, c in zip(data.alphabet, data.character)])
        images, character, groups = _rotated_classes(data, groups, self.held_out_alphabets, rotations)
        test = np.isin(character, np.unique(data.character[np.isin(data.alphabet, self.held_out_alphabets)]))
        flat = images.reshape(len(images), -1)
        self.rotations = rotations
        # the devices' training tasks may be wider than the evaluation's N-way ones (Snell et al. 2017
        # trained 5-way Omniglot with 60-way episodes): only the task-local head's width differs
        self.train_way = int(train_way or n_way)
        super().__init__(flat, character, groups, np.unique(character[test]), self.name,
                         n_way=n_way, k_shot=k_shot, eval_episodes=eval_episodes,
                         samples_per_class=samples_per_class)
        self.size = size
        self._setup_cnn(flat, character, test, (size, size), channels, objective, head_init,
                        samples_per_round, adapt_steps, adapt_lr)


def _rotated_classes(data, groups: np.ndarray, held_out: list[str], rotations: int):
    """Training characters rotated by multiples of 360°/``rotations`` as *new* classes on the same
    device (the augmentation of Santoro et al. 2016 / Finn et al. 2017 / Nichol et al. 2018, which
    multiplies the classes a meta-learner or a supervised model sees); held-out characters are
    never rotated. Returns (images, character ids, device groups)."""
    if rotations == 1:
        return data.images, data.character, groups
    train = ~np.isin(data.alphabet, held_out)
    n_chars, quarter = len(data.names), 4 // rotations
    images, chars, grps = [data.images], [data.character], [groups]
    for r in range(1, rotations):
        images.append(np.rot90(data.images[train], k=r * quarter, axes=(1, 2)))
        chars.append(data.character[train] + r * n_chars)
        grps.append(groups[train])
    return np.concatenate(images), np.concatenate(chars), np.concatenate(grps)


def _rank_within_alphabet(names: list[str]) -> dict[int, int]:
    """Character id → its index inside its alphabet (deals characters over an alphabet's devices)."""
    seen: dict[str, int] = {}
    rank = {}
    for cid, name in enumerate(names):
        alphabet = name.split("/")[0]
        rank[cid] = seen.get(alphabet, 0)
        seen[alphabet] = rank[cid] + 1
    return rank


class FsddCnn(PerDeviceSamples, Experiment):
    """Spoken digits, speaker = device, a log-mel (time × mel) image into a small CNN."""

    name = "fsdd_cnn"

    def __init__(self, root=None, split: int = 0, shots: int = 2, n_frames: int = 32, n_mels: int = 20,
                 channels: tuple[int, ...] = (16, 32, 32), samples_per_round: int = 50, max_take: int = 50,
                 adapt_steps: int = 30, adapt_lr: float = 0.05, words_per_device: int = 10):
        """``words_per_device`` < 10 makes the fleet label-skewed (setting (a) of issue #20): each
        training speaker's recordings are dealt over 10 / ``words_per_device`` devices holding only
        those digits (device ``speaker#j``: digits j·w … j·w + w − 1), as phones that each hear a few
        of the words; the held-out speaker still adapts on all ten."""
        from edge_runtime.online.datasets.fsdd import load_fsdd

        if words_per_device < 1 or 10 % words_per_device:
            raise ValueError(f"words_per_device must divide 10, got {words_per_device!r}")

        feats = load_fsdd(root, max_take=max_take, n_frames=n_frames, front_end="log_mel")
        speakers = sorted(set(feats.speaker.tolist()))
        self.held_out = speakers[split % len(speakers)]
        train = feats.speaker != self.held_out
        self.mean, self.std = float(feats.x[train].mean()), float(feats.x[train].std())
        x = ((feats.x - self.mean) / self.std).astype(np.float32)
        self.data = {}
        for s in speakers:
            for j in range(10 // words_per_device) if s != self.held_out else ():
                mine = (feats.speaker == s) & (feats.digit // words_per_device == j)
                self.data[s if words_per_device == 10 else f"{s}#{j}"] = (x[mine], feats.digit[mine])
        own = ~train
        adapt_mask = own & (feats.take >= 5) & (feats.take < 5 + shots)
        test_mask = own & ~adapt_mask
        self.adapt_set = LocalData(x[adapt_mask], feats.digit[adapt_mask])
        self.test_x, self.test_y = x[test_mask], feats.digit[test_mask]
        self.n_frames, self.n_mels, self.channels, self.shots = n_frames, n_mels, tuple(channels), shots
        self.samples_per_round = samples_per_round
        self.adapt_steps, self.adapt_lr, self.adapt_batch = adapt_steps, adapt_lr, len(self.adapt_set.x)

    def make_network(self, seed: int = 0) -> Network:
        return cnn_network(self.n_frames, self.n_mels, self.channels, 10, seed)

    def pooled_data(self) -> LocalData:
        return LocalData(np.concatenate([x for x, _ in self.data.values()]),
                         np.concatenate([y for _, y in self.data.values()]))

    def evaluate(self, theta: np.ndarray, seed: int = 0, k_shot: int | None = None) -> dict[str, float]:
        net = self.make_network()
        net.set_flat(theta)
        before = net.evaluate(self.test_x, self.test_y)["accuracy"]
        adapt(net, theta, self.adapt_set, self.adapt_steps, self.adapt_lr, self.adapt_batch,
              np.random.default_rng(seed))
        return {"accuracy": net.evaluate(self.test_x, self.test_y)["accuracy"],
                "accuracy_before_adaptation": before, "held_out": self.held_out, "shots": self.shots}
