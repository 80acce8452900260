"""Training loops (cloud side only): the full ViT, the sub-models and the fusion MLP share one.

A single :func:`fit` serves all three because they differ only in the model, the
targets and the loss weights. Progress is a tqdm bar per run (silenced with
``progress=False`` in tests and benchmarks that draw their own).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def fit(model: nn.Module, inputs: np.ndarray, targets: np.ndarray, *, epochs: int,
        lr: float = 3e-3, batch_size: int = 64, weight_decay: float = 0.05,
        class_weights: np.ndarray | None = None, logits_of=lambda out: out[1],
        augment=None, soft_targets: np.ndarray | None = None, distill_weight: float = 0.5,
        temperature: float = 2.0, sampler=None, seed: int = 0, progress: bool = True,
        desc: str = "train", on_epoch=None) -> list[float]:
    """Train with AdamW + one-cycle schedule; returns the mean loss of each epoch.

    ``logits_of`` picks the logits from the model output (ViTs return features, logits).
    ``augment(batch_tensor, generator)`` may perturb inputs per batch.
    ``soft_targets`` (n, classes) probabilities from a teacher add a distillation term
    (KL at ``temperature``, weight ``distill_weight``): sub-models learn from the full
    ViT's soft answers, which carry more than the hard labels about look-alike digits.
    ``sampler(rng) -> indices`` picks each epoch's samples (same count every epoch);
    default: all of them.
    """
    from tqdm.auto import tqdm

    if len(inputs) != len(targets):
        raise ValueError(f"{len(inputs)} inputs but {len(targets)} targets")
    generator = torch.Generator().manual_seed(seed)
    x_all = torch.as_tensor(inputs)
    y_all = torch.as_tensor(targets, dtype=torch.int64)
    soft_all = None if soft_targets is None else torch.as_tensor(soft_targets, dtype=torch.float32)
    weight = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    sampler = sampler or (lambda _rng: np.arange(len(x_all)))
    steps_per_epoch = -(-len(sampler(np.random.default_rng(seed))) // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=max(1, epochs * steps_per_epoch), pct_start=0.15)
    history = []
    model.train()
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        chosen = torch.as_tensor(sampler(rng))
        order = chosen[torch.randperm(len(chosen), generator=generator)]
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            xb = x_all[idx] if augment is None else augment(x_all[idx], generator)
            logits = logits_of(model(xb))
            loss = loss_fn(logits, y_all[idx])
            if soft_all is not None:
                log_probs = torch.log_softmax(logits / temperature, dim=1)
                distill = nn.functional.kl_div(log_probs, soft_all[idx], reduction="batchmean")
                loss = (1 - distill_weight) * loss + distill_weight * temperature ** 2 * distill
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / len(order))
        bar.set_postfix(loss=f"{history[-1]:.3f}")
        if on_epoch is not None:
            on_epoch(len(history), history[-1])
    model.eval()
    return history


@torch.no_grad()
def predict(model: nn.Module, inputs: np.ndarray, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(features, logits) of a ViT over ``inputs``, batched, as numpy arrays."""
    model.eval()
    feats, logits = [], []
    for start in range(0, len(inputs), batch_size):
        f, lg = model(torch.as_tensor(inputs[start:start + batch_size]))
        feats.append(f.numpy())
        logits.append(lg.numpy())
    return np.concatenate(feats), np.concatenate(logits)


def soft_subset_targets(teacher_logits: np.ndarray, classes: list[int], temperature: float) -> np.ndarray:
    """Teacher probabilities (at ``temperature``) folded to (|C|+1) classes: C, then "other"."""
    scaled = teacher_logits / temperature
    probs = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    mine = probs[:, classes]
    return np.concatenate([mine, 1.0 - mine.sum(axis=1, keepdims=True)], axis=1).astype(np.float32)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == labels).mean())


def random_shift(max_shift: int):
    """Augmentation: roll each batch by up to ``max_shift`` pixels (cheap, keeps digits legible)."""
    def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        dy, dx = (torch.randint(-max_shift, max_shift + 1, (2,), generator=generator)).tolist()
        return torch.roll(batch, shifts=(dy, dx), dims=(2, 3))
    return augment
