"""Per-cluster statistics and the person filter (height, footprint, point count).

Statistics are computed for all clusters at once: points are sorted by cluster label and
reduced with ``ufunc.reduceat``, so the cost does not grow with a Python loop over clusters.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_runtime.lidar.config import PersonConfig


@dataclass
class ClusterStats:
    """One row per cluster; ``order``/``starts`` give each cluster's points in the input."""

    count: np.ndarray        # (K,)
    centre_xy: np.ndarray    # (K, 2) mean of the points
    top: np.ndarray          # (K,) highest point above ground = height
    bottom: np.ndarray       # (K,) lowest point above ground
    extent: np.ndarray       # (K, 2) x and y extent of the footprint
    order: np.ndarray        # point indices sorted by cluster
    starts: np.ndarray       # (K + 1,) slice bounds into ``order``

    def members(self, k: int) -> np.ndarray:
        return self.order[self.starts[k]:self.starts[k + 1]]


def cluster_stats(xy: np.ndarray, height: np.ndarray, labels: np.ndarray) -> ClusterStats:
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]]) if len(labels) else np.zeros(0, int)
    count = np.diff(np.r_[starts, len(labels)])
    sxy, sh = xy[order], height[order]
    if len(labels) == 0:
        empty = np.zeros((0, 2))
        return ClusterStats(count, empty, np.zeros(0), np.zeros(0), empty, order, np.zeros(1, int))
    centre = np.add.reduceat(sxy, starts, axis=0) / count[:, None]
    extent = np.maximum.reduceat(sxy, starts, axis=0) - np.minimum.reduceat(sxy, starts, axis=0)
    return ClusterStats(count, centre, np.maximum.reduceat(sh, starts), np.minimum.reduceat(sh, starts),
                        extent, order, np.r_[starts, len(labels)])


def person_mask(stats: ClusterStats, config: PersonConfig) -> np.ndarray:
    """Which clusters are person-sized."""
    longest = stats.extent.max(axis=1) if len(stats.count) else np.zeros(0)
    return ((stats.count >= config.min_points)
            & (stats.top >= config.min_height_m) & (stats.top <= config.max_height_m)
            & (stats.bottom <= config.max_bottom_m)
            & (longest <= config.max_extent_m) & (longest >= config.min_extent_m))
