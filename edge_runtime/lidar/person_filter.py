"""Per-cluster statistics and the person filter (height, footprint, point count).

Statistics are computed for all clusters at once with ``np.bincount`` and unbuffered
``ufunc.at`` reductions (O(points), no sort, no Python loop over clusters); the points of a
cluster are gathered only for the few clusters that pass the filter.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_runtime.lidar.config import PersonConfig


@dataclass
class ClusterStats:
    """One row per cluster label ``0..K-1``."""

    count: np.ndarray        # (K,)
    centre_xy: np.ndarray    # (K, 2) mean of the points
    top: np.ndarray          # (K,) highest point above ground = height
    bottom: np.ndarray       # (K,) lowest point above ground
    extent: np.ndarray       # (K, 2) x and y extent of the footprint


def _reduce(ufunc: np.ufunc, start: float, labels: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    out = np.full(k, start, dtype=values.dtype)
    ufunc.at(out, labels, values)
    return out


def cluster_stats(xy: np.ndarray, height: np.ndarray, labels: np.ndarray) -> ClusterStats:
    k = int(labels.max()) + 1 if len(labels) else 0
    count = np.bincount(labels, minlength=k)
    safe = np.maximum(count, 1)
    centre = np.column_stack([np.bincount(labels, xy[:, 0], k) / safe, np.bincount(labels, xy[:, 1], k) / safe])
    low = np.column_stack([_reduce(np.minimum, np.inf, labels, xy[:, i], k) for i in (0, 1)])
    high = np.column_stack([_reduce(np.maximum, -np.inf, labels, xy[:, i], k) for i in (0, 1)])
    return ClusterStats(count, centre, _reduce(np.maximum, -np.inf, labels, height, k),
                        _reduce(np.minimum, np.inf, labels, height, k), high - low)


def members_of(labels: np.ndarray, chosen: np.ndarray) -> list[np.ndarray]:
    """Point indices of each chosen cluster (sorting only the points of those clusters)."""
    picked = np.flatnonzero(np.isin(labels, chosen))
    picked = picked[np.argsort(labels[picked], kind="stable")]
    bounds = np.searchsorted(labels[picked], chosen, side="left"), np.searchsorted(labels[picked], chosen, side="right")
    return [picked[a:b] for a, b in zip(*bounds)]


def person_mask(stats: ClusterStats, config: PersonConfig,
                lowest_visible: np.ndarray | None = None) -> np.ndarray:
    """Which clusters are person-sized. ``lowest_visible`` (per cluster, the lowest height any
    beam reaches there) lets head-and-shoulder clusters pass where the legs cannot be seen."""
    longest = stats.extent.max(axis=1) if len(stats.count) else np.zeros(0)
    max_bottom = np.full(len(stats.count), config.max_bottom_m)
    if lowest_visible is not None:
        max_bottom = np.maximum(max_bottom, lowest_visible + config.visible_bottom_margin_m)
    return ((stats.count >= config.min_points)
            & (stats.top >= config.min_height_m) & (stats.top <= config.max_height_m)
            & (stats.bottom <= max_bottom)
            & (longest <= config.max_extent_m) & (longest >= config.min_extent_m))
