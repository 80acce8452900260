"""Association: Hungarian assignment of predicted tracks to detections with a distance gate."""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist


def associate(predicted: np.ndarray, detected: np.ndarray, gate_m: float | np.ndarray,
              extra_cost: np.ndarray | None = None) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """Return ``(pairs, unmatched_tracks, unmatched_detections)``; pairs beyond the gate are
    refused. ``gate_m`` is one gate or one per track (a coasting track's gate is wider);
    ``extra_cost`` (tracks × detections) is added to the distance inside the gate."""
    n_tracks, n_detections = len(predicted), len(detected)
    if n_tracks == 0 or n_detections == 0:
        return [], np.arange(n_tracks), np.arange(n_detections)
    cost = cdist(predicted, detected)
    gate = np.broadcast_to(np.asarray(gate_m, dtype=float).reshape(-1, 1), (n_tracks, 1))
    inside = cost <= gate
    if extra_cost is not None:
        cost = cost + extra_cost
    gated = np.where(inside, cost, float(gate.max() + (0 if extra_cost is None else extra_cost.max())) * 1e3)
    rows, cols = linear_sum_assignment(gated)
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols) if inside[r, c]]
    matched_tracks = {r for r, _ in pairs}
    matched_detections = {c for _, c in pairs}
    return (pairs, np.array([i for i in range(n_tracks) if i not in matched_tracks], dtype=int),
            np.array([j for j in range(n_detections) if j not in matched_detections], dtype=int))
