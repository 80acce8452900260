"""Personalised keywords on FSDD: few-shot keyword spotting for a new speaker *and* new words.

Why this setting: with speaker = device and all ten digits everywhere (``FsddCnn``) FedAvg
trains exactly the evaluation task, so no starting point can beat it by much. A keyword fleet
meets a harder case — the user enrols *their own* words with a few takes — which is the FSDD
counterpart of Omniglot's held-out alphabets:

* training devices are the training speakers, each holding only the training words
  (``train_words``, digits 0–4 by default); their tasks are N-way over those words with the
  labels shuffled every round (episodic) or the word itself (``objective="supervised"``:
  the FedAvg / centralised baselines, one label per word shared by every speaker);
* the held-out speaker (``split``) never enters a round, and neither do the held-out words:
  evaluation is N-way K-shot over that speaker's recordings of the other digits, from the
  same prototype-initialised head and the same SGD budget for every method.

Class ids are ``variant × 1000 + speaker index × 10 + digit`` (a word of one speaker), so a
device's task only ever uses its own recordings. ``augment`` adds *variants* of the training
words as new words on the same device — the time-reversed log-mel image (``"reverse"``), the
mel-flipped one (``"flip"``), or both — the FSDD counterpart of Omniglot's rotated characters
(with only 5 training speakers × 7 words the fleet holds 35 classes; the literature's
meta-learners see thousands). Held-out words are never augmented.
"""
from __future__ import annotations

import numpy as np

from edge_runtime.online.experiments.cnn import FewShotCnn
from edge_runtime.online.experiments.fewshot import FewShotClassification

DIGITS = tuple(range(10))
AUGMENTS = ("reverse", "flip")
VARIANT = 1000  # class id stride between a word and its augmented variants


def augmented_variants(images: np.ndarray, augment: tuple[str, ...]) -> list[np.ndarray]:
    """(N, time, mel) images → [original, each non-empty combination of ``augment`` applied]:
    time reversal and mel flip, 2^len(augment) variants in a fixed order."""
    unknown = sorted(set(augment) - set(AUGMENTS))
    if unknown or len(set(augment)) != len(augment):
        raise ValueError(f"augment must be distinct names from {AUGMENTS}, got {augment!r}")
    out = [images]
    for name in augment:
        axis = 1 if name == "reverse" else 2
        out += [np.flip(v, axis=axis) for v in out]
    return out


class FsddKeywordCnn(FewShotCnn):
    name = "fsdd_keywords"

    def __init__(self, root=None, split: int = 0, train_words: tuple[int, ...] = (0, 1, 2, 3, 4),
                 n_way: int = 5, k_shot: int = 5, n_frames: int = 32, n_mels: int = 20,
                 channels: tuple[int, ...] = (16, 32, 32), objective: str = "episodic",
                 eval_episodes: int = 50, samples_per_class: int | None = 5, samples_per_round: int = 50,
                 adapt_steps: int = 20, adapt_lr: float = 0.05, head_init: str = "prototypes",
                 max_take: int = 50, train_way: int | None = None, augment: tuple[str, ...] = ()):
        from edge_runtime.online.datasets.fsdd import load_fsdd

        held_out_words = sorted(set(DIGITS) - set(train_words))
        self.train_way = int(train_way or n_way)  # devices' tasks may be wider than the evaluation's
        if len(held_out_words) < n_way or len(train_words) * 2 ** len(augment) < max(n_way, self.train_way):
            raise ValueError(f"need ≥{n_way} training and held-out words, got {sorted(train_words)}")
        feats = load_fsdd(root, max_take=max_take, n_frames=n_frames, front_end="log_mel")
        speakers = sorted(set(feats.speaker.tolist()))
        self.held_out = speakers[split % len(speakers)]
        self.held_out_words = held_out_words
        own = feats.speaker == self.held_out
        keep = np.where(own, np.isin(feats.digit, held_out_words), np.isin(feats.digit, train_words))
        spk = np.array([speakers.index(s) for s in feats.speaker[keep]])
        base_classes, test, groups = spk * 10 + feats.digit[keep], own[keep], feats.speaker[keep]
        images = feats.x[keep].reshape(int(keep.sum()), n_frames, n_mels)
        variants = augmented_variants(images[~test], tuple(augment))[1:]
        self.augment, self.n_variants = tuple(augment), 1 + len(variants)
        flat = np.concatenate([images, *variants]).reshape(-1, n_frames * n_mels)
        classes = np.concatenate([base_classes] + [base_classes[~test] + VARIANT * (v + 1) for v in range(len(variants))])
        groups = np.concatenate([groups] + [groups[~test]] * len(variants))
        test = np.concatenate([test] + [np.zeros(int((~test).sum()), bool)] * len(variants))
        FewShotClassification.__init__(self, flat, classes, groups, np.unique(classes[test]),
                                       self.name, n_way=n_way, k_shot=k_shot, eval_episodes=eval_episodes,
                                       samples_per_class=samples_per_class)
        self._setup_cnn(flat, classes, test, (n_frames, n_mels), channels, objective, head_init,
                        samples_per_round, adapt_steps, adapt_lr,
                        global_of=lambda c: (c // VARIANT) * 10 + c % 10)  # a variant is a word of its own
