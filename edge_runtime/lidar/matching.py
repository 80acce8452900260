"""Association: Hungarian assignment of predicted tracks to detections with a distance gate."""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist


def associate(predicted: np.ndarray, detected: np.ndarray, gate_m: float
              ) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """Return ``(pairs, unmatched_tracks, unmatched_detections)``; pairs beyond the gate are refused."""
    n_tracks, n_detections = len(predicted), len(detected)
    if n_tracks == 0 or n_detections == 0:
        return [], np.arange(n_tracks), np.arange(n_detections)
    cost = cdist(predicted, detected)
    gated = np.where(cost <= gate_m, cost, gate_m * 1e3)
    rows, cols = linear_sum_assignment(gated)
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols) if cost[r, c] <= gate_m]
    matched_tracks = {r for r, _ in pairs}
    matched_detections = {c for _, c in pairs}
    return (pairs, np.array([i for i in range(n_tracks) if i not in matched_tracks], dtype=int),
            np.array([j for j in range(n_detections) if j not in matched_detections], dtype=int))
