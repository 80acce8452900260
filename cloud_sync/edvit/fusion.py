"""Train the fusion MLP on frozen sub-model outputs (cloud side; torch only here).

Input: one block per sub-model (``edge_runtime.edvit.fusion.submodel_block``), from the
training images. Training drops whole blocks at random (replacing them by their mean,
exactly what serving does for a device that missed the deadline), so that a partial
answer degrades gracefully. Output: a numpy :class:`FusionHead`.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cloud_sync.edvit.train import fit
from edge_runtime.edvit.fusion import FusionHead


def block_dropout(offsets: np.ndarray, drop_prob: float):
    """Augmentation: zero each sub-model's (standardised) block with probability ``drop_prob``."""
    sizes = torch.as_tensor(np.diff(offsets))

    def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        keep = torch.rand(len(batch), len(sizes), generator=generator) >= drop_prob
        return batch * torch.repeat_interleave(keep, sizes, dim=1).to(batch.dtype)
    return augment


def train_fusion(blocks: list[np.ndarray], labels: np.ndarray, num_classes: int, *,
                 hidden: int = 256, epochs: int = 40, drop_prob: float = 0.1, seed: int = 0,
                 progress: bool = True) -> FusionHead:
    """Fit the fusion MLP on ``blocks[i]`` = sub-model i's outputs for the training images."""
    inputs = np.concatenate(blocks, axis=1).astype(np.float32)
    mean = inputs.mean(axis=0)
    std = inputs.std(axis=0) + 1e-6
    standardised = ((inputs - mean) / std).astype(np.float32)
    sizes = [b.shape[1] for b in blocks]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    torch.manual_seed(seed)
    mlp = nn.Sequential(nn.Linear(inputs.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
    fit(mlp, standardised, labels, epochs=epochs, lr=3e-3, batch_size=64, weight_decay=1e-3,
        logits_of=lambda out: out, augment=block_dropout(offsets, drop_prob), seed=seed,
        progress=progress, desc="fusion")
    first, last = mlp[0], mlp[2]
    return FusionHead(w1=first.weight.detach().numpy().T.copy(), b1=first.bias.detach().numpy(),
                      w2=last.weight.detach().numpy().T.copy(), b2=last.bias.detach().numpy(),
                      mean=mean.astype(np.float32), std=std.astype(np.float32), block_sizes=sizes)
