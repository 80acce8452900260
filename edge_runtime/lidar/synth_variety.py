"""A harder generator for the evaluation matrix: everything that differs between real sites is
randomised per seed, so the scores do not just measure how well the pipeline fits its own
simulator.

Per scene: walkway width and ceiling, pillar spacing, each sensor's place across the walkway
(against a wall, or on a pole in the middle, where people walk under it) and its yaw. Per
person: body (children to tall adults, slim to broad, some with backpacks), speed (0.7–1.9
m/s, slow walkers too) and walking pattern — straight, diagonal lane changes, wide meanders,
or a stop of a few seconds in view. Sensor model, mount height and tilt come from the cell.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_runtime.lidar.sensor_models import sensor_spec
from edge_runtime.lidar.synth_people import BodyShape, Walker
from edge_runtime.lidar.synth_scene import SceneSpec, WalkwaySpec

PATTERNS = ("straight", "diagonal", "meander", "stop")


def varied_body(rng: np.random.Generator) -> BodyShape:
    child = rng.random() < 0.08
    height = rng.uniform(1.15, 1.45) if child else float(np.clip(rng.normal(1.72, 0.11), 1.45, 2.02))
    return BodyShape(height=float(height), shoulder_width=float(rng.uniform(0.30, 0.58) * (0.8 if child else 1)),
                     depth=float(rng.uniform(0.18, 0.38)), leg_ratio=float(rng.uniform(0.43, 0.53)),
                     head_radius=float(rng.uniform(0.08, 0.12)), leg_radius=float(rng.uniform(0.05, 0.095)),
                     backpack_m=float(rng.uniform(0.12, 0.25)) if rng.random() < 0.3 else 0.0)


@dataclass(frozen=True)
class PatternWalker(Walker):
    """A walker whose lane drifts (diagonal), swings widely (meander) or who stops once."""

    pattern: str = "straight"
    lane_end_y: float = 0.0
    length_m: float = 60.0
    stop_at_s: float = 0.0          # seconds after t_start
    stop_for_s: float = 0.0

    def _walked_time(self, t: np.ndarray) -> np.ndarray:
        elapsed = np.asarray(t, dtype=float) - self.t_start
        if self.stop_for_s <= 0:
            return elapsed
        return elapsed - np.clip(elapsed - self.stop_at_s, 0.0, self.stop_for_s)

    def position(self, t):
        walked = self._walked_time(t)
        s = self.speed * walked
        x = self.x0 + self.direction * s
        progress = np.clip(s / self.length_m, 0.0, 1.0)
        lane = self.lane_y + (self.lane_end_y - self.lane_y) * progress
        y = lane + self.sway_m * np.sin(2 * np.pi * walked / self.sway_period_s)
        return np.stack([x, y], axis=-1)

    def heading(self, t: float) -> float:
        a, b = self.position(t - 0.05), self.position(t + 0.05)
        d = b - a
        if np.hypot(*d) < 1e-4:
            return 0.0 if self.direction > 0 else np.pi
        return float(np.arctan2(d[1], d[0]))

    def moving(self, t: float) -> bool:
        elapsed = t - self.t_start
        return not (self.stop_for_s > 0 and self.stop_at_s <= elapsed <= self.stop_at_s + self.stop_for_s)


def varied_walkers(n: int, walkway: WalkwaySpec, duration_s: float, rng: np.random.Generator) -> list[Walker]:
    length, half = walkway.length_m, walkway.half_width_m
    walkers = []
    for pid in range(n):
        direction = 1 if rng.random() < 0.5 else -1
        speed = float(rng.uniform(0.7, 1.9))
        pattern = PATTERNS[int(rng.choice(4, p=[0.4, 0.25, 0.2, 0.15]))]
        crossing = length / speed
        t_start = float(rng.uniform(-0.6 * crossing, duration_s - 0.3 * crossing))
        lane = float(rng.uniform(-half + 0.5, half - 0.5))
        lane_end = float(rng.uniform(-half + 0.5, half - 0.5)) if pattern == "diagonal" else lane
        sway = float(rng.uniform(0.4, 1.0)) if pattern == "meander" else float(rng.uniform(0.0, 0.25))
        sway = min(sway, max(0.0, half - 0.4 - max(abs(lane), abs(lane_end))))
        stop_at, stop_for = (float(rng.uniform(0, crossing)), float(rng.uniform(2, 6))) if pattern == "stop" else (0, 0)
        walkers.append(PatternWalker(pid + 1, varied_body(rng), 0.0 if direction > 0 else length, direction,
                                     speed, lane, sway, float(rng.uniform(6, 16)), t_start,
                                     float(rng.uniform(0, 2 * np.pi)), pattern, lane_end, length,
                                     stop_at, stop_for))
    return walkers


def matrix_scene(model: str, height_m: float, tilt_deg: float, people: int, seed: int,
                 duration_s: float = 30.0, sensors: int = 3, range_m: float = 8.0,
                 azimuth_steps: int | None = None) -> SceneSpec:
    """One evaluation cell's scene: ``sensors`` non-overlapping LiDARs of ``model`` mounted at
    ``height_m`` and ``tilt_deg`` along a 60 m walkway; the rest is drawn from ``seed``."""
    rng = np.random.default_rng(10_000 + seed)
    walkway = WalkwaySpec(half_width_m=float(rng.uniform(3.0, 4.5)),
                          ceiling_m=float(max(height_m + 0.3, rng.uniform(3.2, 4.5))),
                          pillar_spacing_m=float(rng.uniform(8, 14)))
    spacing = walkway.length_m / sensors
    mounted = []
    for i in range(sensors):
        y = float(rng.uniform(-walkway.half_width_m + 0.3, walkway.half_width_m - 0.3))
        # Tilted sensors look into the walkway; level ones may face any way.
        yaw = (90.0 if y < 0 else -90.0) + float(rng.uniform(-30, 30)) if tilt_deg else float(rng.uniform(0, 360))
        mounted.append(sensor_spec(model, f"s{i}", x=spacing * (i + 0.5) + float(rng.uniform(-1, 1)), y=y,
                                   height_m=height_m, tilt_deg=tilt_deg, yaw_deg=yaw, range_m=range_m,
                                   azimuth_steps=azimuth_steps))
    return SceneSpec(walkway, mounted, people, duration_s, 10.0, seed, crowd="varied")
