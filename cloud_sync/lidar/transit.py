"""Transit-time model per pair of zones, learned online from confirmed links.

A zone is where a track leaves or enters a sensor's view, named by sensor and walking
direction (``s0>E``: leaving s0 heading east). Dividing out the walking speed makes the
transit times of fast and slow walkers comparable: ``transit_time × speed`` is the distance
walked through the blind zone, and what the model keeps per zone pair is the *detour* —
walked distance minus the straight line from exit to entry — as a running Gaussian
(Welford). Until a pair has ``min_links`` confirmed links, the prior expects a small detour
and penalises turning round (a pair whose headings differ).

People who pause in the blind zone arrive late by any amount, so past the expected detour
the Gaussian part may be capped (``late_cap``): a late arrival then costs at most that much
and the other cues decide; an early one (faster than the walk allows) is never capped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

COMPASS = ("E", "N", "W", "S")


def heading_name(velocity: np.ndarray) -> str:
    angle = math.atan2(float(velocity[1]), float(velocity[0]))
    return COMPASS[int(round(angle / (math.pi / 2))) % 4]


@dataclass
class _Running:
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, value: float) -> None:
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (value - self.mean)

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0


class TransitModel:
    def __init__(self, min_links: int = 3, min_std_m: float = 0.4, turn_penalty: float = 4.0):
        self.min_links = min_links
        self.min_std_m = min_std_m
        self.turn_penalty = turn_penalty
        self.pairs: dict[tuple[str, str], _Running] = {}

    def negative_log_likelihood(self, pair: tuple[str, str], transit_s: float, speed: float,
                                straight_gap_m: float, late_cap: float | None = None) -> float:
        """How unlikely it is to walk from one zone to the other in ``transit_s`` at ``speed``
        (``late_cap``: the most a detour longer than expected may cost, turn penalty apart)."""
        detour = transit_s * speed - straight_gap_m
        stats = self.pairs.get(pair)
        penalty = 0.0
        if stats is not None and stats.n >= self.min_links:
            mean, std = stats.mean, max(stats.std, self.min_std_m)
        else:
            mean, std = 0.0, 0.5 + 0.15 * straight_gap_m
            if pair[0][-1] != pair[1][-1]:
                penalty = self.turn_penalty
        nll = 0.5 * ((detour - mean) / std) ** 2 + math.log(std)
        if late_cap is not None and detour > mean:
            nll = min(nll, late_cap)
        return nll + penalty

    def learn(self, pair: tuple[str, str], transit_s: float, speed: float, straight_gap_m: float) -> None:
        self.pairs.setdefault(pair, _Running()).add(transit_s * speed - straight_gap_m)

    def to_dict(self) -> dict:
        return {f"{a}->{b}": {"links": s.n, "detour_m": round(s.mean, 2), "std_m": round(s.std, 2)}
                for (a, b), s in sorted(self.pairs.items())}
