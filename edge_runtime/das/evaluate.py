"""Scoring detections against simulated ground truth (tests, training, benchmark).

Detections and truth are matched one-to-one per direction with the Hungarian method on
``|dt_center| + |dspeed| / 50`` (km/h), within ``tolerance_s`` and 15 km/h, so two
vehicles a second apart cannot both claim the same detection.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass
class Score:
    tp: int
    fp: int
    fn: int
    speed_errors: list[float] = field(default_factory=list)
    pairs: list[tuple[dict, dict]] = field(default_factory=list)   # (truth, detection)
    missed: list[dict] = field(default_factory=list)
    false: list[dict] = field(default_factory=list)

    @property
    def f1(self) -> float:
        return 2 * self.tp / max(2 * self.tp + self.fp + self.fn, 1)

    @property
    def speed_mae(self) -> float:
        return float(np.mean(np.abs(self.speed_errors))) if self.speed_errors else float("nan")

    def balanced_accuracy(self) -> float:
        """Mean recall of car and truck over matched vehicles."""
        recalls = []
        for cls in ("car", "truck"):
            rows = [(t, d) for t, d in self.pairs if t["cls"] == cls]
            if rows:
                recalls.append(np.mean([d["class"] == cls for _, d in rows]))
        return float(np.mean(recalls)) if recalls else float("nan")

    def summary(self) -> dict[str, Any]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "f1": round(self.f1, 4),
                "speed_mae_kmh": round(self.speed_mae, 3),
                "balanced_accuracy": round(self.balanced_accuracy(), 4)}


def match(truth: Sequence[dict], detections: Sequence[dict], tolerance_s: float = 0.5,
          edge_s: float = 0.0, duration_s: float | None = None) -> Score:
    """Score ``detections`` (``t_center_s``, ``speed_kmh`` signed) against ``truth``.

    Unmatched items within ``edge_s`` of the record's ends are not counted: a vehicle
    whose middle passage falls just outside the record may fairly go either way.
    """
    def inside(t: float) -> bool:
        return duration_s is None or edge_s <= t <= duration_s - edge_s

    score = Score(0, 0, 0)
    used_t, used_d = set(), set()
    for direction in (1, -1):
        ti = [i for i, t in enumerate(truth) if np.sign(t["speed_kmh"]) == direction]
        di = [j for j, d in enumerate(detections) if np.sign(d["speed_kmh"]) == direction]
        if not ti or not di:
            continue
        dt = np.abs(np.subtract.outer([truth[i]["t_center_s"] for i in ti],
                                      [detections[j]["t_center_s"] for j in di]))
        dv = np.abs(np.subtract.outer([truth[i]["speed_kmh"] for i in ti],
                                      [detections[j]["speed_kmh"] for j in di]))
        cost = dt + dv / 50.0
        allowed = (dt <= tolerance_s) & (dv <= 15.0)
        rows, cols = linear_sum_assignment(np.where(allowed, cost, 1e6))
        for r, c in zip(rows, cols):
            if allowed[r, c]:
                t, d = truth[ti[r]], detections[di[c]]
                used_t.add(ti[r])
                used_d.add(di[c])
                score.tp += 1
                score.speed_errors.append(d["speed_kmh"] - t["speed_kmh"])
                score.pairs.append((t, d))
    for i, t in enumerate(truth):
        if i not in used_t and inside(t["t_center_s"]):
            score.fn += 1
            score.missed.append(t)
    for j, d in enumerate(detections):
        if j not in used_d and inside(d["t_center_s"]):
            score.fp += 1
            score.false.append(d)
    return score
