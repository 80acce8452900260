"""Synthetic walkers: body shapes, walking gait and trajectories for the scene generator.

A body is four triangle meshes (two swinging legs, an ellipsoid torso, a head) built once in
a canonical pose and re-posed per frame with numpy, so a frame costs one matrix product per
body part. Shapes vary by height, shoulder width, body depth and leg ratio — the cues a
colourless LiDAR can see and the re-identification has to use.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class BodyShape:
    height: float          # m, top of head
    shoulder_width: float  # torso width across the walking direction
    depth: float           # torso depth along the walking direction
    leg_ratio: float       # leg length / height
    head_radius: float
    leg_radius: float
    backpack_m: float = 0.0   # depth of a bag on the back (0: none)

    @classmethod
    def random(cls, rng: np.random.Generator) -> "BodyShape":
        return cls(height=float(np.clip(rng.normal(1.72, 0.10), 1.45, 2.0)),
                   shoulder_width=float(rng.uniform(0.36, 0.56)),
                   depth=float(rng.uniform(0.20, 0.36)),
                   leg_ratio=float(rng.uniform(0.44, 0.52)),
                   head_radius=float(rng.uniform(0.085, 0.12)),
                   leg_radius=float(rng.uniform(0.055, 0.09)))

    def to_dict(self) -> dict:
        return {k: round(v, 4) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Walker:
    """A person walking along x at constant speed with a slow lateral sway."""

    person_id: int
    shape: BodyShape
    x0: float              # position at t_start
    direction: int         # +1 walks towards +x, -1 towards -x
    speed: float           # m/s
    lane_y: float
    sway_m: float
    sway_period_s: float
    t_start: float
    gait_phase: float

    def position(self, t: np.ndarray | float) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        x = self.x0 + self.direction * self.speed * (t - self.t_start)
        y = self.lane_y + self.sway_m * np.sin(2 * np.pi * (t - self.t_start) / self.sway_period_s)
        return np.stack([x, y], axis=-1)

    def step_frequency_hz(self) -> float:
        """Steps per second: stride length grows with leg length (≈ 0.8 × height per stride)."""
        return self.speed / (0.4 * self.shape.height)

    def heading(self, t: float) -> float:
        return 0.0 if self.direction > 0 else np.pi

    def moving(self, t: float) -> bool:
        return True


def _ellipsoid(radii: tuple[float, float, float], resolution: int = 8):
    import open3d as o3d

    mesh = o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=resolution)
    return np.asarray(mesh.vertices) * np.asarray(radii), np.asarray(mesh.triangles)


def _cylinder(radius: float, length: float, resolution: int = 8):
    """A vertical cylinder hanging from the origin down to z = -length (a leg below the hip)."""
    import open3d as o3d

    mesh = o3d.geometry.TriangleMesh.create_cylinder(radius=radius, height=length, resolution=resolution, split=1)
    return np.asarray(mesh.vertices) - np.array([0, 0, length / 2]), np.asarray(mesh.triangles)


class BodyMesh:
    """Canonical body parts of one shape; ``pose`` places them for a frame."""

    def __init__(self, shape: BodyShape):
        self.shape = shape
        self.leg_length = shape.height * shape.leg_ratio
        head_centre = shape.height - shape.head_radius
        torso_top = head_centre - shape.head_radius - 0.04
        torso_half = (torso_top - self.leg_length) / 2
        tv, tt = _ellipsoid((shape.depth / 2, shape.shoulder_width / 2, torso_half + 0.05))
        hv, ht = _ellipsoid((shape.head_radius,) * 3, resolution=6)
        lv, lt = _cylinder(shape.leg_radius, self.leg_length)
        self.torso = (tv + [0, 0, self.leg_length + torso_half], tt)
        self.head = (hv + [0, 0, head_centre], ht)
        self.leg = (lv, lt)
        self.hip_offset = shape.shoulder_width * 0.22
        self.extras = []
        if shape.backpack_m > 0:
            bv, bt = _ellipsoid((shape.backpack_m / 2, shape.shoulder_width * 0.35, torso_half * 0.6), resolution=6)
            self.extras.append((bv + [-(shape.depth + shape.backpack_m) / 2, 0, self.leg_length + 1.2 * torso_half], bt))

    def pose(self, xy: np.ndarray, heading: float, swing: float) -> tuple[np.ndarray, np.ndarray]:
        """All triangles of the body at ``xy`` facing ``heading`` with legs at ``±swing`` rad."""
        parts = [self.torso, self.head, *self.extras]
        for side, angle in ((1, swing), (-1, -swing)):
            c, s = np.cos(angle), np.sin(angle)
            rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])      # swing about the hip's y axis
            vertices = self.leg[0] @ rot.T + [0, side * self.hip_offset, self.leg_length]
            parts.append((vertices, self.leg[1]))
        c, s = np.cos(heading), np.sin(heading)
        yaw = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        vertices, triangles, base = [], [], 0
        for v, t in parts:
            vertices.append(v @ yaw.T + [xy[0], xy[1], 0.0])
            triangles.append(t + base)
            base += len(v)
        return np.concatenate(vertices).astype(np.float32), np.concatenate(triangles).astype(np.uint32)


def random_walkers(n: int, length_m: float, half_width_m: float, duration_s: float,
                   rng: np.random.Generator) -> list[Walker]:
    """``n`` people who use the walkway during ``[0, duration_s]``, keeping to the right."""
    walkers = []
    for pid in range(n):
        direction = 1 if rng.random() < 0.5 else -1
        speed = float(rng.uniform(1.0, 1.6))
        crossing = length_m / speed
        t_start = float(rng.uniform(-0.6 * crossing, duration_s - 0.3 * crossing))
        lane = float(rng.uniform(0.5, half_width_m - 1.0)) * (-direction)
        walkers.append(Walker(pid + 1, BodyShape.random(rng), 0.0 if direction > 0 else length_m, direction,
                              speed, lane, float(rng.uniform(0.0, 0.3)), float(rng.uniform(8, 20)),
                              t_start, float(rng.uniform(0, 2 * np.pi))))
    return walkers
