"""Clustering on the ground plane, not in 3D.

A spinning LiDAR samples a person as horizontal rings; 3D density clustering splits one
person into several ring-clusters (9 people became 23 clusters in our measurement). Projected
onto the floor the rings coincide, so we rasterise points into a ground-plane grid and take
8-connected components of the occupied cells. A dense occupancy image labelled by
``scipy.ndimage.label`` is the fast path (no sort, O(points + cells)); when the extent would
need more than ``MAX_DENSE_CELLS`` cells, only occupied cells are stored (sorted keys and
``searchsorted``), so memory is bounded either way — open3d's DBSCAN runs out of memory on
large eps (Open3D #1600).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

_NEIGHBOURS = np.array([(1, 0), (0, 1), (1, 1), (1, -1)])   # half of the 8-neighbourhood suffices
MAX_DENSE_CELLS = 4_000_000                                  # 16 MB of int32 labels


def cluster_ground_plane(xy: np.ndarray, cell_m: float) -> np.ndarray:
    """Label each ``(x, y)`` with a cluster id ``0..K-1`` (connected occupied grid cells)."""
    if len(xy) == 0:
        return np.zeros(0, dtype=np.int64)
    cells = np.floor(xy / cell_m).astype(np.int64)
    cells -= cells.min(axis=0) - 1                          # keep neighbours non-negative
    width = int(cells[:, 1].max()) + 2
    keys = cells[:, 0] * width + cells[:, 1]
    rows = int(cells[:, 0].max()) + 2
    if rows * width <= MAX_DENSE_CELLS:
        occupied = np.zeros(rows * width, dtype=bool)
        occupied[keys] = True
        image, _ = ndimage.label(occupied.reshape(rows, width), structure=np.ones((3, 3), dtype=bool))
        return image.ravel()[keys].astype(np.int64) - 1
    return _sparse_components(keys, width)


def _sparse_components(keys: np.ndarray, width: int) -> np.ndarray:
    """Connected components over occupied cells only (huge extents)."""
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
