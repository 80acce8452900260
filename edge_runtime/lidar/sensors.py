"""A LiDAR's mounting pose and beam pattern, shared by the simulator and the tracker.

The pose maps sensor coordinates to world coordinates: ``world = R @ p + t`` with
``R = Rz(yaw) @ Ry(pitch)``; a positive pitch tilts the sensor's x axis towards the floor.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class SensorSpec:
    sensor_id: str
    x: float
    y: float
    z: float
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    beams: int = 32
    elevation_deg: tuple[float, float] = (-60.0, 0.0)   # lowest and highest beam
    azimuth_steps: int = 1024
    max_range_m: float = 8.0
    range_noise_m: float = 0.02
    dropout: float = 0.02

    def rotation(self) -> np.ndarray:
        return self._rotation

    @cached_property
    def _rotation(self) -> np.ndarray:
        yaw, pitch = np.radians(self.yaw_deg), np.radians(self.pitch_deg)
        cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
        rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
        ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
        return rz @ ry

    @property
    def origin(self) -> np.ndarray:
        return np.array([self.x, self.y, self.z])

    def to_world(self, points: np.ndarray) -> np.ndarray:
        return points[:, :3] @ self.rotation().T + self.origin

    def xy_to_world(self, xy: np.ndarray, z: np.ndarray | float = 0.0) -> np.ndarray:
        """Sensor-frame ground positions → world ``(x, y)``."""
        xy = np.atleast_2d(xy)
        points = np.column_stack([xy, np.broadcast_to(z, len(xy))])
        return self.to_world(points)[:, :2]

    def ray_directions(self) -> np.ndarray:
        """Unit ray directions in the sensor frame, beam-major: ``(beams * azimuth_steps, 3)``."""
        elevation = np.radians(np.linspace(*self.elevation_deg, self.beams))
        azimuth = np.linspace(0, 2 * np.pi, self.azimuth_steps, endpoint=False)
        el, az = np.meshgrid(elevation, azimuth, indexing="ij")
        return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], -1).reshape(-1, 3)

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        data["elevation_deg"] = list(self.elevation_deg)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "SensorSpec":
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"sensor {data.get('sensor_id', '?')}: unknown keys {sorted(unknown)}")
        data = dict(data)
        if "elevation_deg" in data:
            data["elevation_deg"] = tuple(data["elevation_deg"])
        return cls(**data)
