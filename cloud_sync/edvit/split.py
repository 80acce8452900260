"""ED-ViT's split step: class subsets -> pruned, fine-tuned (|Cᵢ|+1)-way sub-models.

``split_model`` does it for all N subsets; ``derive_submodel`` for one, and is what
placement calls again with a lower keep ratio when a sub-model fits no device (the
importance ranking is kept, so re-pruning skips the scoring pass).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cloud_sync.edvit.data import ImageSplit
from cloud_sync.edvit.prune import (Importance, balanced_weights, partition_classes, prune_vit,
                                    subset_targets, unit_importance, with_other_head)
from cloud_sync.edvit.train import accuracy, fit, predict, random_shift, soft_subset_targets
from cloud_sync.edvit.vit import TinyVit
from edge_runtime.edvit.fusion import submodel_block


@dataclass
class SplitSettings:
    epochs: int = 10                     # passes over each sub-model's (balanced) epoch sample
    min_steps: int = 0                   # ...but at least this many optimiser steps
    lr: float = 5e-3
    batch_size: int = 64
    keep_ratio: float | None = None      # None: default_keep_ratio per subset
    keep_exponent: float = 0.6
    augment_shift: int = 0
    distill_weight: float = 0.5          # 0 disables distillation from the full ViT
    balanced_epochs: bool = True         # each epoch: all of C + as many "other" as an average class
    temperature: float = 2.0
    seed: int = 0
    progress: bool = True


@dataclass
class SubModel:
    index: int
    classes: list[int]
    keep_ratio: float
    model: TinyVit
    importance: Importance
    test_accuracy: float = float("nan")   # on its own (|C|+1)-way task


def default_keep_ratio(subset_size: int, num_classes: int, exponent: float = 0.6) -> float:
    """Fraction of units kept: a sub-model covering a share s of the classes keeps s**exponent.

    Weight matrices shrink with the square of the ratio, so N = 10 sub-models come out
    roughly 10-15x smaller than the full model (the paper reports up to 28.9x).
    """
    return float(min(1.0, (subset_size / num_classes) ** exponent))


def derive_submodel(full: TinyVit, data: ImageSplit, index: int, classes: list[int],
                    keep_ratio: float, settings: SplitSettings,
                    importance: Importance | None = None,
                    teacher_logits: np.ndarray | None = None) -> SubModel:
    """Prune ``full`` for ``classes`` at ``keep_ratio`` and fine-tune it with an "other" class.

    ``importance`` and ``teacher_logits`` (the full ViT on the training images) are
    computed when not given; pass them to re-prune cheaply.
    """
    if importance is None:
        mine = np.isin(data.y_train, classes)
        importance = unit_importance(full, data.x_train[mine], data.y_train[mine])
    model = with_other_head(prune_vit(full, importance, keep_ratio), list(classes))
    targets = subset_targets(data.y_train, list(classes))
    soft = None
    if settings.distill_weight > 0:
        if teacher_logits is None:
            teacher_logits = predict(full, data.x_train)[1]
        soft = soft_subset_targets(teacher_logits, list(classes), settings.temperature)
    if settings.balanced_epochs:
        sampler, weights = balanced_sampler(targets, len(classes)), None
        per_epoch = len(sampler(np.random.default_rng(0)))
    else:
        sampler, weights = None, balanced_weights(targets, len(classes) + 1)
        per_epoch = len(targets)
    # small subsets (N = 10: one class + as many "other") would get very few steps per epoch
    epochs = max(settings.epochs, math.ceil(settings.min_steps * settings.batch_size / per_epoch))
    fit(model, data.x_train, targets, epochs=epochs, lr=settings.lr,
        batch_size=settings.batch_size, class_weights=weights, sampler=sampler,
        augment=random_shift(settings.augment_shift) if settings.augment_shift else None,
        soft_targets=soft, distill_weight=settings.distill_weight, temperature=settings.temperature,
        seed=settings.seed + index, progress=settings.progress, desc=f"sub-model {index}")
    _, logits = predict(model, data.x_test)
    return SubModel(index, list(classes), keep_ratio, model, importance,
                    accuracy(logits, subset_targets(data.y_test, list(classes))))


def balanced_sampler(targets: np.ndarray, other: int):
    """Epoch sampler: every sample of the subset's classes plus a fresh random draw of
    "other" samples as large as an average subset class.

    With N = 10 a sub-model's "other" class is 90 % of the data; instead of weighting the
    loss we show it a different tenth of the others each epoch, which balances the classes
    and makes fine-tuning N sub-models cost about as much as training the full ViT once.
    """
    mine = np.flatnonzero(targets != other)
    rest = np.flatnonzero(targets == other)
    draw = min(len(rest), max(1, round(len(mine) / max(1, other))))

    def sample(rng: np.random.Generator) -> np.ndarray:
        return np.concatenate([mine, rng.choice(rest, draw, replace=False)])
    return sample


def split_model(full: TinyVit, data: ImageSplit, parts: int, settings: SplitSettings) -> list[SubModel]:
    """All N sub-models of ``full`` (class subsets from :func:`partition_classes`)."""
    subsets = partition_classes(data.num_classes, parts)
    teacher_logits = predict(full, data.x_train)[1] if settings.distill_weight > 0 else None
    return [derive_submodel(full, data, i, classes,
                            settings.keep_ratio or default_keep_ratio(len(classes), data.num_classes,
                                                                      settings.keep_exponent),
                            settings, teacher_logits=teacher_logits)
            for i, classes in enumerate(subsets)]


def fusion_blocks(submodels: list[SubModel], images: np.ndarray) -> list[np.ndarray]:
    """Each sub-model's fusion block for ``images`` (torch; the devices compute the same in ONNX)."""
    return [submodel_block(*predict(sub.model, images)) for sub in submodels]
