"""Splitting clusters that hold several people walking close together.

On the ground-plane grid two people a shoulder apart touch and become one cluster — in a
40-person crowd that was the main source of misses (one detection for two people) and of
identity swaps. A merged cluster is wider than one person; along its principal axis its
points fall into two groups with a thin valley between them (where a single walker's torso
fills the middle between the legs). We cut such clusters at the best two-group threshold
(Otsu's criterion on the projection) when the valley is nearly empty, and repeat once on the
parts, so up to four people come apart. Only the few wide clusters of a frame are examined.
"""
from __future__ import annotations

import numpy as np

SPLIT_EXTENT_M = 0.65      # narrower clusters are one person
MAX_EXTENT_M = 2.8         # wider ones are not people at all
VALLEY_HALF_WIDTH_M = 0.05
MAX_VALLEY_RATIO = 0.35    # valley density / mean density along the axis
MIN_SEPARATION_M = 0.35


def _best_cut(u: np.ndarray, min_points: int) -> float | None:
    """Threshold on the sorted 1-D projection ``u`` maximising between-group variance, if the
    groups are big enough, far enough apart and separated by a sparse valley."""
    n = len(u)
    if n < 2 * min_points:
        return None
    cumulative = np.cumsum(u)
    k = np.arange(min_points, n - min_points + 1)             # left group sizes
    left_mean = cumulative[k - 1] / k
    right_mean = (cumulative[-1] - cumulative[k - 1]) / (n - k)
    between = k * (n - k) * (left_mean - right_mean) ** 2
    best = int(np.argmax(between))
    if right_mean[best] - left_mean[best] < MIN_SEPARATION_M:
        return None
    cut = 0.5 * (u[k[best] - 1] + u[k[best]])
    valley = np.count_nonzero(np.abs(u - cut) <= VALLEY_HALF_WIDTH_M)
    mean_density = n / max(u[-1] - u[0], 1e-6) * 2 * VALLEY_HALF_WIDTH_M
    return float(cut) if valley <= MAX_VALLEY_RATIO * mean_density else None


def _split_once(xy: np.ndarray, min_points: int) -> np.ndarray | None:
    """Boolean side of each point for a two-way cut, or ``None`` when the cluster is one."""
    centred = xy - xy.mean(axis=0)
    axis = np.linalg.eigh(centred.T @ centred)[1][:, -1]
    u = centred @ axis
    order = np.argsort(u)
    cut = _best_cut(u[order], min_points)
    return None if cut is None else u > cut


def split_merged_clusters(xy: np.ndarray, labels: np.ndarray, longest: np.ndarray,
                          min_points: int, rounds: int = 2) -> np.ndarray:
    """Relabel ``labels`` (cluster id per point) so merged people get ids of their own."""
    labels = labels.copy()
    candidates = np.flatnonzero((longest > SPLIT_EXTENT_M) & (longest <= MAX_EXTENT_M))
    if len(candidates) == 0:
        return labels
    next_label = int(labels.max()) + 1
    for _ in range(rounds):
        if len(candidates) == 0:
            break
        members = np.flatnonzero(np.isin(labels, candidates))
        members = members[np.argsort(labels[members], kind="stable")]
        bounds = np.searchsorted(labels[members], candidates), np.searchsorted(labels[members], candidates, "right")
        produced = []
        for k, start, stop in zip(candidates, *bounds):
            index = members[start:stop]
            side = _split_once(xy[index], min_points)
            if side is None:
                continue
            labels[index[side]] = next_label
            for part_label, part in ((k, index[~side]), (next_label, index[side])):
                if np.ptp(xy[part], axis=0).max() > SPLIT_EXTENT_M:
                    produced.append(part_label)
            next_label += 1
        candidates = np.asarray(produced, dtype=labels.dtype)
    return labels
