"""Clustering on the ground plane, not in 3D.

A spinning LiDAR samples a person as horizontal rings; 3D density clustering splits one
person into several ring-clusters (9 people became 23 clusters in our measurement). Projected
onto the floor the rings coincide, so we rasterise points into a ground-plane grid and take
8-connected components of the occupied cells. Only occupied cells are stored (sorted keys
and ``searchsorted``), so memory grows with the points, never with the extent — open3d's
DBSCAN runs out of memory on large eps (Open3D #1600).
"""
from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

_NEIGHBOURS = np.array([(1, 0), (0, 1), (1, 1), (1, -1)])   # half of the 8-neighbourhood suffices


def cluster_ground_plane(xy: np.ndarray, cell_m: float) -> np.ndarray:
    """Label each ``(x, y)`` with a cluster id ``0..K-1`` (connected occupied grid cells)."""
    if len(xy) == 0:
        return np.zeros(0, dtype=np.int64)
    cells = np.floor(xy / cell_m).astype(np.int64)
    cells -= cells.min(axis=0) - 1                          # keep neighbours non-negative
    width = int(cells[:, 1].max()) + 2
    keys = cells[:, 0] * width + cells[:, 1]
    unique_keys, point_cell = np.unique(keys, return_inverse=True)
    rows, cols = [], []
    for dx, dy in _NEIGHBOURS:
        neighbour = unique_keys + dx * width + dy
        position = np.searchsorted(unique_keys, neighbour)
        position = np.minimum(position, len(unique_keys) - 1)
        found = unique_keys[position] == neighbour
        rows.append(np.nonzero(found)[0])
        cols.append(position[found])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)),
                       shape=(len(unique_keys), len(unique_keys)))
    _, cell_label = connected_components(graph, directed=False)
    return cell_label[point_cell.ravel()]
