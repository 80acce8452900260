"""Rényi-DP accountant for the sampled Gaussian mechanism (Mironov, Talwar & Zhang 2019).

A round samples each device with probability ``q`` (clients per round / fleet size),
clips every update to norm C and the *sum* carries Gaussian noise of std ``σ·C``
(σ = noise multiplier). Integer orders α use the exact binomial expansion

    A_α = Σ_k C(α,k) (1−q)^(α−k) q^k exp((k²−k) / (2σ²)),   RDP(α) = log A_α / (α−1),

composed over rounds by addition, converted to (ε, δ) with
ε = min_α RDP_T(α) + log((α−1)/α) − (log δ + log α)/(α−1)  (Balle et al. 2020).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln, logsumexp

ORDERS = tuple(range(2, 256))


def rdp_sampled_gaussian(q: float, sigma: float, order: int) -> float:
    """RDP of one round at integer ``order``."""
    if not 0 < q <= 1 or not sigma > 0:
        raise ValueError(f"need 0 < q <= 1 and sigma > 0, got q={q}, sigma={sigma}")
    if q == 1.0:
        return order / (2 * sigma ** 2)
    k = np.arange(order + 1)
    log_binom = gammaln(order + 1) - gammaln(k + 1) - gammaln(order - k + 1)
    terms = log_binom + (order - k) * math.log1p(-q) + k * math.log(q) + (k * k - k) / (2 * sigma ** 2)
    return float(logsumexp(terms) / (order - 1))


def epsilon(q: float, sigma: float, rounds: int, delta: float = 1e-5) -> tuple[float, int]:
    """(ε, best order) after ``rounds`` rounds; ``inf`` for σ = 0 (no noise: no guarantee)."""
    if sigma == 0:
        return math.inf, 0
    if rounds < 1 or not 0 < delta < 1:
        raise ValueError(f"need rounds >= 1 and 0 < delta < 1, got rounds={rounds}, delta={delta}")
    best = (math.inf, 0)
    for a in ORDERS:
        rdp = rounds * rdp_sampled_gaussian(q, sigma, a)
        eps = rdp + math.log((a - 1) / a) - (math.log(delta) + math.log(a)) / (a - 1)
        best = min(best, (eps, a))
    return max(0.0, best[0]), best[1]
