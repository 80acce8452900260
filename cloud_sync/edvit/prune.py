"""Class-wise structured pruning: the heart of ED-ViT's "split" step.

For one class subset Cᵢ we (1) rank attention heads, MLP hidden channels and
embedding channels by first-order Taylor importance |∂L/∂gate| measured on Cᵢ's
training images only, (2) slice the trained ViT's weights down to the top units at a
keep ratio (the "pruning threshold"), (3) give it a fresh (|Cᵢ|+1)-way head whose last
class is "other", and (4) fine-tune it on all training images with the other classes
relabelled "other" and the loss balanced between classes.

Slicing keeps the surviving weights exactly, so the sub-model starts from what the full
model already knows about Cᵢ and fine-tuning only has to repair the LayerNorm statistics
and learn the "other" boundary.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cloud_sync.edvit.vit import TinyVit, VitConfig


def partition_classes(num_classes: int, parts: int) -> list[list[int]]:
    """Classes 0..K-1 in N contiguous subsets whose sizes differ by at most one."""
    if not 1 <= parts <= num_classes:
        raise ValueError(f"cannot split {num_classes} classes into {parts} sub-models: "
                         f"choose N between 1 and {num_classes}")
    return [chunk.tolist() for chunk in np.array_split(np.arange(num_classes), parts)]


@dataclass
class Importance:
    """Per-unit importance of one model on one class subset (higher = keep)."""

    embed: np.ndarray          # (embed_dim,)
    heads: list[np.ndarray]    # per block (heads,)
    mlp: list[np.ndarray]      # per block (hidden,)


def unit_importance(model: TinyVit, images: np.ndarray, labels: np.ndarray,
                    batch_size: int = 32) -> Importance:
    """Taylor importance: |gradient of the loss w.r.t. an all-ones gate| summed over batches.

    Small batches keep per-sample effects from cancelling inside one gradient.
    """
    if len(images) == 0:
        raise ValueError("no images of this class subset to rank units on")
    gates = model.enable_gates()
    totals = [torch.zeros_like(g) for g in gates]
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    try:
        for start in range(0, len(images), batch_size):
            xb = torch.as_tensor(images[start:start + batch_size])
            yb = torch.as_tensor(labels[start:start + batch_size], dtype=torch.int64)
            loss = loss_fn(model(xb)[1], yb)
            for total, grad in zip(totals, torch.autograd.grad(loss, gates)):
                total += grad.abs()
    finally:
        model.disable_gates()
    values = [t.detach().numpy() for t in totals]
    return Importance(embed=values[0], heads=values[1::2], mlp=values[2::2])


def top_units(scores: np.ndarray, keep_ratio: float, minimum: int = 1) -> np.ndarray:
    """Indices (ascending) of the ``ceil(keep_ratio * n)`` highest scores, at least ``minimum``."""
    count = min(len(scores), max(minimum, math.ceil(keep_ratio * len(scores) - 1e-9)))
    return np.sort(np.argsort(-scores, kind="stable")[:count])


def _slice_linear(layer: nn.Linear, rows=None, cols=None) -> nn.Linear:
    weight = layer.weight.detach()
    bias = layer.bias.detach()
    if rows is not None:
        weight, bias = weight[rows], bias[rows]
    if cols is not None:
        weight = weight[:, cols]
    new = nn.Linear(weight.shape[1], weight.shape[0])
    new.weight.data.copy_(weight)
    new.bias.data.copy_(bias)
    return new


def _slice_norm(norm: nn.LayerNorm, keep) -> nn.LayerNorm:
    new = nn.LayerNorm(len(keep))
    new.weight.data.copy_(norm.weight.detach()[keep])
    new.bias.data.copy_(norm.bias.detach()[keep])
    return new


def prune_vit(model: TinyVit, importance: Importance, keep_ratio: float,
              embed_keep_ratio: float | None = None) -> TinyVit:
    """A physically smaller copy of ``model`` keeping the top ``keep_ratio`` of each unit kind.

    ``embed_keep_ratio`` (default: ``keep_ratio``) sets the residual width apart: heads and
    MLP channels can be removed exactly, whereas removing residual channels also changes
    every LayerNorm's statistics.
    """
    embed_keep_ratio = keep_ratio if embed_keep_ratio is None else embed_keep_ratio
    for name, ratio in (("keep ratio", keep_ratio), ("embedding keep ratio", embed_keep_ratio)):
        if not 0 < ratio <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {ratio}")
    cfg = model.config
    embed = torch.as_tensor(top_units(importance.embed, embed_keep_ratio, minimum=4))
    head_keep = [top_units(s, keep_ratio) for s in importance.heads]
    mlp_keep = [torch.as_tensor(top_units(s, keep_ratio)) for s in importance.mlp]
    new_cfg = VitConfig(image_size=cfg.image_size, patch_size=cfg.patch_size, embed_dim=len(embed),
                        head_dim=cfg.head_dim, heads=[len(h) for h in head_keep],
                        mlp=[len(m) for m in mlp_keep], num_classes=cfg.num_classes)
    pruned = TinyVit(new_cfg)
    pruned.patch_embed = _slice_linear(model.patch_embed, rows=embed)
    pruned.cls_token.data.copy_(model.cls_token.detach()[:, :, embed])
    pruned.pos_embed.data.copy_(model.pos_embed.detach()[:, :, embed])
    dh = cfg.head_dim
    for old, new, heads, hidden in zip(model.blocks, pruned.blocks, head_keep, mlp_keep):
        per_head = torch.as_tensor((heads[:, None] * dh + np.arange(dh)).ravel())
        qkv_rows = torch.cat([part * old.attn.heads * dh + per_head for part in range(3)])
        new.norm1 = _slice_norm(old.norm1, embed)
        new.attn.qkv = _slice_linear(old.attn.qkv, rows=qkv_rows, cols=embed)
        new.attn.proj = _slice_linear(old.attn.proj, rows=embed, cols=per_head)
        new.norm2 = _slice_norm(old.norm2, embed)
        new.mlp.fc1 = _slice_linear(old.mlp.fc1, rows=hidden, cols=embed)
        new.mlp.fc2 = _slice_linear(old.mlp.fc2, rows=embed, cols=hidden)
    pruned.norm = _slice_norm(model.norm, embed)
    pruned.head = _slice_linear(model.head, cols=embed)
    return pruned.eval()


def with_other_head(model: TinyVit, classes: list[int]) -> TinyVit:
    """Replace the K-way head by a (|C|+1)-way one; rows start from the old class rows.

    The "other" row starts as the mean of the rows of the classes not in C.
    """
    old_w, old_b = model.head.weight.detach(), model.head.bias.detach()
    rest = [c for c in range(old_w.shape[0]) if c not in classes]
    head = nn.Linear(old_w.shape[1], len(classes) + 1)
    head.weight.data[:-1] = old_w[classes]
    head.bias.data[:-1] = old_b[classes]
    if rest:
        head.weight.data[-1] = old_w[rest].mean(0)
        head.bias.data[-1] = old_b[rest].mean(0)
    model.head = head
    model.config.num_classes = len(classes) + 1
    return model


def subset_targets(labels: np.ndarray, classes: list[int]) -> np.ndarray:
    """Original labels mapped to 0..|C|-1 for classes in C and |C| ("other") for the rest."""
    lookup = np.full(int(labels.max()) + 1, len(classes), dtype=np.int64)
    lookup[classes] = np.arange(len(classes))
    return lookup[labels]


def balanced_weights(targets: np.ndarray, num_classes: int) -> np.ndarray:
    """Loss weights so that each target class contributes equally ("other" is often 90 %)."""
    counts = np.bincount(targets, minlength=num_classes).astype(np.float64)
    weights = len(targets) / (num_classes * np.maximum(counts, 1))
    return (weights / weights.mean()).astype(np.float32)
