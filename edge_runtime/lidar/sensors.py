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
    model: str = ""                 # catalogue name (sensor_models.MODELS) or "" for a custom one
    rate_hz: float = 10.0
    pose_known: bool = True         # z / pitch are surveyed: the floor follows from the mount

    def __post_init__(self):
        problems = []
        if not 1 <= self.beams <= 512:
            problems.append(f"beams {self.beams} outside 1–512")
        low, high = self.elevation_deg
        if not -90.0 <= low <= high <= 90.0:
            problems.append(f"elevation_deg {self.elevation_deg} must be (lowest, highest) within ±90°")
        if not 16 <= self.azimuth_steps <= 8192:
            problems.append(f"azimuth_steps {self.azimuth_steps} outside 16–8192")
        if not 0.5 <= self.max_range_m <= 300.0:
            problems.append(f"max_range_m {self.max_range_m} outside 0.5–300 m")
        if not -60.0 <= self.pitch_deg <= 60.0:
            problems.append(f"pitch_deg {self.pitch_deg} outside ±60°")
        if not 0.0 < self.rate_hz <= 100.0:
            problems.append(f"rate_hz {self.rate_hz} outside (0, 100]")
        if problems:
            raise ValueError(f"sensor {self.sensor_id}: " + "; ".join(problems))

    def beam_elevations_deg(self):
        """Vertical angle of every beam in the sensor frame, lowest first."""
        return np.linspace(*self.elevation_deg, self.beams)

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
        elevation = np.radians(self.beam_elevations_deg())
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
        if "model" in data and data["model"] and "beams" not in data:
            from edge_runtime.lidar.sensor_models import sensor_model

            m = sensor_model(data["model"])
            data.setdefault("elevation_deg", m.elevation_deg)
            data.setdefault("beams", m.beams)
            data.setdefault("azimuth_steps", m.azimuth_steps)
            data.setdefault("rate_hz", m.rate_hz)
        if "elevation_deg" in data:
            data["elevation_deg"] = tuple(data["elevation_deg"])
        return cls(**data)
