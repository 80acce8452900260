"""Serving-time fusion of ED-ViT sub-model outputs: a two-layer MLP in plain numpy.

Each sub-model i contributes one block ``[features_i, logits_i]``. Blocks are
standardised with the training mean/std, so a sub-model that did not answer in time is
filled with zeros, i.e. its training mean. The MLP was trained with whole blocks
dropped that way (see ``cloud_sync.edvit.fusion``), so a missing device costs accuracy
gracefully instead of producing nonsense; the answer is then flagged partial.

Weights live in ``fusion.npz`` (``w1, b1, w2, b2, mean, std, block_sizes``); torch is
only needed to train them, never to serve.

The matrices are tiny (a batch x a few hundred), so the MLP runs with one BLAS thread:
with OpenBLAS's default pool on a busy 2-core coordinator a (64 x 120) @ (120 x 256)
product took 0.03 ms at the median but 33 ms at p95 (its threads waiting for a core);
limited to one thread the p95 was 0.07 ms, for ~0.025 ms per call of threadpoolctl.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np


@lru_cache(maxsize=1)
def _blas_pools():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:          # not installed: BLAS keeps its default pool
        return None
    return ThreadpoolController().select(user_api="blas")


def one_blas_thread():
    """A context in which numpy's BLAS uses one thread (no-op without threadpoolctl)."""
    pools = _blas_pools()
    return pools.limit(limits=1) if pools is not None else contextlib.nullcontext()


@dataclass
class FusedAnswer:
    classes: np.ndarray                 # (batch,) predicted class per image
    probabilities: np.ndarray           # (batch, num_classes)
    partial: bool                       # some sub-model outputs were missing
    missing: list[int] = field(default_factory=list)   # indices of missing sub-models


class FusionHead:
    def __init__(self, w1, b1, w2, b2, mean, std, block_sizes):
        self.w1, self.b1, self.w2, self.b2 = w1, b1, w2, b2
        self.mean, self.std = mean, std
        self.block_sizes = [int(s) for s in block_sizes]
        self.offsets = np.concatenate([[0], np.cumsum(self.block_sizes)])
        if self.offsets[-1] != w1.shape[0]:
            raise ValueError(f"fusion weights take {w1.shape[0]} inputs but blocks sum to {self.offsets[-1]}")

    @classmethod
    def load(cls, path: str | Path) -> "FusionHead":
        with np.load(path) as blob:
            return cls(**{k: blob[k] for k in ("w1", "b1", "w2", "b2", "mean", "std", "block_sizes")})

    def save(self, path: str | Path) -> None:
        np.savez(path, w1=self.w1, b1=self.b1, w2=self.w2, b2=self.b2, mean=self.mean,
                 std=self.std, block_sizes=np.asarray(self.block_sizes))

    @property
    def num_blocks(self) -> int:
        return len(self.block_sizes)

    def assemble(self, blocks: dict[int, np.ndarray], batch: int) -> tuple[np.ndarray, list[int]]:
        """Standardised fusion input (batch, total) with missing blocks at zero (= training mean)."""
        inputs = np.zeros((batch, self.offsets[-1]), dtype=np.float32)
        missing = []
        for index in range(self.num_blocks):
            lo, hi = self.offsets[index], self.offsets[index + 1]
            block = blocks.get(index)
            if block is None:
                missing.append(index)
                continue
            if block.shape != (batch, hi - lo):
                raise ValueError(f"sub-model {index} sent shape {block.shape}, fusion expects {(batch, hi - lo)}")
            inputs[:, lo:hi] = (block - self.mean[lo:hi]) / self.std[lo:hi]
        return inputs, missing

    def logits(self, inputs: np.ndarray) -> np.ndarray:
        with one_blas_thread():
            return np.maximum(inputs @ self.w1 + self.b1, 0.0) @ self.w2 + self.b2

    def fuse(self, blocks: dict[int, np.ndarray], batch: int) -> FusedAnswer:
        inputs, missing = self.assemble(blocks, batch)
        logits = self.logits(inputs)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = exp / exp.sum(axis=1, keepdims=True)
        return FusedAnswer(probs.argmax(axis=1), probs, bool(missing), missing)


def submodel_block(features: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """What one sub-model contributes to fusion (the same on both training and serving side)."""
    return np.concatenate([features, logits], axis=1).astype(np.float32)
