"""The single-frame path: ground removal → ground-plane clustering → person filter.

``detect_people`` is what ``edge-runtime lidar detect FRAME`` runs on any cloud (no
background model); the static-sensor path calls it with a foreground mask from the
background model and the plane fitted once at start-up.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_runtime.lidar.clustering import cluster_ground_plane
from edge_runtime.lidar.config import PipelineConfig
from edge_runtime.lidar.ground import GroundPlane, fit_ground_plane
from edge_runtime.lidar.person_filter import cluster_stats, members_of, person_mask
from edge_runtime.lidar.split import split_merged_clusters


@dataclass
class Detection:
    """A person candidate in sensor coordinates; ``points`` are its own points (kept on device)."""

    x: float
    y: float
    z: float            # ground height below the person: (x, y, z) is the bottom centre
    height: float
    n_points: int
    extent: tuple[float, float]
    points: np.ndarray  # (n, 3): x, y relative to (x, y); z as height above ground

    def to_dict(self) -> dict:
        return {"x": round(self.x, 3), "y": round(self.y, 3), "z": round(self.z, 3),
                "height": round(self.height, 3), "points": self.n_points}


def detect_people(points: np.ndarray, config: PipelineConfig | None = None,
                  plane: GroundPlane | None = None,
                  foreground: np.ndarray | None = None,
                  height: np.ndarray | None = None,
                  lowest_visible=None) -> list[Detection]:
    """Person candidates in one frame.

    ``foreground`` (bool per point) drops known background; ``height`` (above the plane, per
    point) may be passed when the caller already computed it; ``lowest_visible`` maps cluster
    centres (K, 2) to the lowest height a beam reaches there (``visibility``), so clusters
    that show only head and shoulders pass where beams cannot reach the legs.
    """
    config = config or PipelineConfig()
    if points.ndim != 2 or points.shape[1] < 3:
        raise ValueError(f"expected an (N, 3) point array, got shape {points.shape}")
    if plane is None:
        plane = fit_ground_plane(points, config.ground)
    if height is None:
        height = plane.height(points)
    keep = (height > config.cluster.min_height_m) & (height < config.cluster.max_height_m)
    if foreground is not None:
        keep &= foreground
    kept = points[keep, :3]
    kept_height = height[keep]
    labels = cluster_ground_plane(kept[:, :2], config.cluster.cell_m)
    stats = cluster_stats(kept[:, :2], kept_height, labels)
    if config.person.split_merged and len(stats.count):
        split = split_merged_clusters(kept[:, :2], labels, stats.extent.max(axis=1), config.person.min_points)
        if split.max() > labels.max():
            labels = split
            stats = cluster_stats(kept[:, :2], kept_height, labels)
    lowest = lowest_visible(stats.centre_xy) if lowest_visible is not None and len(stats.count) else None
    chosen = np.flatnonzero(person_mask(stats, config.person, lowest))
    if len(chosen) == 0:
        return []
    ground_z = plane.ground_z(stats.centre_xy[chosen])
    detections = []
    for k, z, member in zip(chosen, ground_z, members_of(labels, chosen)):
        cx, cy = stats.centre_xy[k]
        local = np.column_stack([kept[member, 0] - cx, kept[member, 1] - cy, kept_height[member]])
        detections.append(Detection(float(cx), float(cy), float(z), float(stats.top[k]),
                                    int(stats.count[k]), (float(stats.extent[k, 0]), float(stats.extent[k, 1])),
                                    local.astype(np.float32)))
    return detections
