"""Ground removal: a seeded, vectorised RANSAC plane fit.

All hypotheses are drawn at once and scored on a fixed subsample, so one fit costs a few
matrix products instead of a Python loop; a fixed seed makes it deterministic (open3d's
``segment_plane`` is deterministic only after ``o3d.utility.random.seed``). A static sensor
fits its plane once and reuses it for every frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_runtime.lidar.config import GroundConfig


@dataclass(frozen=True)
class GroundPlane:
    """``normal · p + offset`` is the height of ``p`` above the ground (normal points up)."""

    normal: np.ndarray
    offset: float

    def height(self, points: np.ndarray) -> np.ndarray:
        return points[:, :3] @ self.normal.astype(points.dtype) + points.dtype.type(self.offset)

    def ground_z(self, xy: np.ndarray) -> np.ndarray:
        """The z of the ground below each ``(x, y)``."""
        n = self.normal
        return -(xy[:, 0] * n[0] + xy[:, 1] * n[1] + self.offset) / n[2]

    def to_dict(self) -> dict:
        return {"normal": self.normal.tolist(), "offset": float(self.offset)}


def fit_ground_plane(points: np.ndarray, config: GroundConfig = GroundConfig()) -> GroundPlane:
    """Fit the dominant near-horizontal plane among the lower points of ``points``."""
    if len(points) < 3:
        raise ValueError(f"ground fit needs at least 3 points, got {len(points)}")
    rng = np.random.default_rng(config.seed)
    # A random subset fixes the plane as well as all points do, at a cost independent of N
    # (drawn with replacement: a permutation of 100k points costs more than the fit).
    xyz = points[rng.integers(0, len(points), min(config.fit_points, len(points))), :3]
    # The floor is the lowest large surface: seed hypotheses from the lowest points only.
    # (Seeding from the lower half once let a wall-mounted sensor fit a "plane" through the
    # dense rows its beams draw on the wall beside it.) Score on a sample of everything.
    z = xyz[:, 2]
    cut = int(len(z) * config.seed_quantile)
    low = xyz[z <= np.partition(z, cut)[cut]].astype(np.float64)
    sample = xyz[rng.integers(0, len(xyz), min(config.sample_points, len(xyz)))].astype(np.float64)
    triplets = low[rng.integers(0, len(low), size=(config.iterations, 3))]
    normals = np.cross(triplets[:, 1] - triplets[:, 0], triplets[:, 2] - triplets[:, 0])
    norms = np.linalg.norm(normals, axis=1)
    valid = norms > 1e-9
    normals[valid] /= norms[valid, None]
    normals *= np.sign(normals[:, 2:3] + 1e-12)
    valid &= normals[:, 2] >= np.cos(np.radians(config.max_tilt_deg))
    if not valid.any():
        raise ValueError("no near-horizontal plane found; is the cloud in a z-up sensor frame?")
    normals, triplets = normals[valid], triplets[valid]
    offsets = -np.einsum("ij,ij->i", normals, triplets[:, 0])
    inliers = np.abs(sample @ normals.T + offsets) < config.distance_m      # (S, H)
    winner = int(np.argmax(inliers.sum(axis=0)))
    best = GroundPlane(normals[winner], float(offsets[winner]))
    refined = _refine(xyz, best, config.distance_m)
    # A refit that tips past the allowed tilt has absorbed a wall: keep the hypothesis.
    return refined if refined.normal[2] >= np.cos(np.radians(config.max_tilt_deg)) else best


def _refine(xyz: np.ndarray, plane: GroundPlane, distance_m: float) -> GroundPlane:
    """Least-squares refit on the inliers of the best hypothesis: the normal is the smallest
    eigenvector of their 3×3 scatter matrix (same answer as an SVD, a fraction of the cost)."""
    inliers = xyz[np.abs(plane.height(xyz)) < distance_m].astype(np.float64)
    if len(inliers) < 3:
        return plane
    centre = inliers.mean(axis=0)
    centred = inliers - centre
    normal = np.linalg.eigh(centred.T @ centred)[1][:, 0]
    normal = normal if normal[2] > 0 else -normal
    return GroundPlane(normal, float(-normal @ centre))
