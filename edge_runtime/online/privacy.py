"""Client-side differential privacy of an update: clip its L2 norm, add Gaussian noise.

Done on the device, before the update leaves it, so neither the link nor the coordinator
ever holds the exact update. ``noise_std`` is the absolute standard deviation
(noise multiplier × clip); the coordinator's accountant (``cloud_sync.fl.accountant``)
turns the multiplier, the sampling rate and the rounds into (ε, δ).
"""
from __future__ import annotations

import numpy as np


def clip_and_noise(delta: np.ndarray, clip: float, noise_std: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(clipped + noised update, its norm before clipping)."""
    if not clip > 0 or not noise_std >= 0:
        raise ValueError(f"DP needs clip > 0 and noise_std >= 0, got clip={clip}, noise_std={noise_std}")
    delta = np.asarray(delta, np.float32)
    norm = float(np.sqrt(np.dot(delta, delta)))
    out = delta * np.float32(min(1.0, clip / norm)) if norm > 0 else delta.copy()
    if noise_std:
        out = out + rng.normal(0.0, noise_std, out.shape).astype(np.float32)
    return out, norm
