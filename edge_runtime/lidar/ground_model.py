"""Where the floor is for a static sensor, and whether that answer can be trusted.

A surveyed mount (``SensorSpec.pose_known``) gives the floor directly: world height is
``R[2] · p + z``, so the plane in the sensor frame has normal ``R[2]`` and offset ``z``. A
nominal mount is checked against the data instead: the floor is fitted over many frames
(one frame of a 16-beam sensor at 2.2 m holds no floor at all within 8 m — its lowest beam
meets the floor at 8.2 m — and RANSAC then fits a tilted plane through legs and walls), and
the fit is accepted only when its normal and height agree with the mount. An implausible fit
falls back to the nominal mount and says so in the health report; a surveyed mount that the
data contradict (many points below its floor) is reported too. Nothing here is silent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_runtime.lidar.config import GroundConfig
from edge_runtime.lidar.ground import GroundPlane, fit_ground_plane
from edge_runtime.lidar.sensors import SensorSpec
from edge_runtime.lidar.visibility import coverage_summary


@dataclass
class GroundCheck:
    estimate_frames: int = 10        # frames pooled for an estimate (nominal mounts)
    points_per_frame: int = 4000     # subsample kept from each of them
    min_inliers: int = 300           # fewer floor points than this is "floor not seen"
    max_normal_error_deg: float = 6.0
    max_height_error_m: float = 0.4
    below_floor_m: float = 0.3       # points this far under the floor contradict it
    max_below_fraction: float = 0.02


def mount_plane(sensor: SensorSpec) -> GroundPlane:
    """The floor (world z = 0) in the sensor frame, from the mounting pose."""
    return GroundPlane(sensor.rotation()[2].astype(np.float64), float(sensor.z))


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(abs(float(a @ b)), -1.0, 1.0))))


class GroundModel:
    """Feed frames until ``plane`` is set; ``health()`` says where it came from and any doubt."""

    def __init__(self, sensor: SensorSpec, config: GroundConfig = GroundConfig(),
                 check: GroundCheck = GroundCheck()):
        self.sensor, self.config, self.check = sensor, config, check
        self.mount = mount_plane(sensor)
        self.plane: GroundPlane | None = self.mount if sensor.pose_known else None
        self.source = "mount" if sensor.pose_known else "estimating"
        self.issues: list[str] = []
        self.estimate: dict | None = None
        self._pool: list[np.ndarray] = []
        self._checked_frames = 0
        self._rng = np.random.default_rng(config.seed)

    @property
    def warmup_frames(self) -> int:
        return 0 if self.sensor.pose_known else self.check.estimate_frames

    @property
    def wants_frames(self) -> bool:
        """Whether ``observe`` still uses the points (estimating, or checking the mount)."""
        return self.plane is None or (self.sensor.pose_known and self._checked_frames < self.check.estimate_frames)

    def observe(self, points: np.ndarray) -> GroundPlane | None:
        if self.plane is not None:
            if self.sensor.pose_known and self._checked_frames < self.check.estimate_frames:
                self._check_mount(points)
            return self.plane
        take = self._rng.integers(0, len(points), min(self.check.points_per_frame, len(points)))
        self._pool.append(points[take, :3])
        if len(self._pool) >= self.check.estimate_frames:
            self._estimate(np.concatenate(self._pool))
            self._pool = []
        return self.plane

    def _check_mount(self, points: np.ndarray) -> None:
        self._checked_frames += 1
        if len(points) == 0:
            return
        below = float(np.mean(self.mount.height(points) < -self.check.below_floor_m))
        if below > self.check.max_below_fraction and not any("below" in i for i in self.issues):
            self.issues.append(f"{below:.0%} of the points lie more than {self.check.below_floor_m} m below "
                               f"the floor given by the mount (height {self.sensor.z} m, tilt "
                               f"{self.sensor.pitch_deg}°): check the configured mounting pose")

    def _estimate(self, pool: np.ndarray) -> None:
        c = self.check
        try:
            fitted = fit_ground_plane(pool, self.config)
        except ValueError as exc:
            return self._fall_back(f"no floor plane could be fitted ({exc})", None)
        inliers = int((np.abs(fitted.height(pool)) < self.config.distance_m).sum())
        angle, height = _angle_deg(fitted.normal, self.mount.normal), float(fitted.offset)
        below = float(np.mean(fitted.height(pool) < -c.below_floor_m))
        self.estimate = {"normal": np.round(fitted.normal, 4).tolist(), "height_m": round(height, 3),
                         "inliers": inliers, "normal_error_deg": round(angle, 2), "below_fraction": round(below, 4)}
        reasons = []
        if inliers < c.min_inliers:
            reasons.append(f"only {inliers} floor points in {c.estimate_frames} frames")
        if angle > c.max_normal_error_deg:
            reasons.append(f"its normal is {angle:.1f}° off the mount's")
        if abs(height - self.sensor.z) > c.max_height_error_m:
            reasons.append(f"it lies {height:.2f} m below the sensor, the mount says {self.sensor.z} m")
        if below > c.max_below_fraction:
            reasons.append(f"{below:.0%} of the points lie under it")
        if reasons:
            return self._fall_back("ground estimate implausible: " + "; ".join(reasons), fitted)
        self.plane, self.source = fitted, "estimated"

    def _fall_back(self, reason: str, fitted: GroundPlane | None) -> None:
        coverage = coverage_summary(self.sensor, self.mount)
        if coverage["floor_visible_from_m"] is None:
            reason += (f"; the floor is not in view: the lowest beam ({self.sensor.elevation_deg[0]}°, tilt "
                       f"{self.sensor.pitch_deg}°) from {self.sensor.z} m does not reach it within the "
                       f"{self.sensor.max_range_m} m range")
        self.issues.append(reason + "; using the nominal mount pose as the floor")
        self.plane, self.source = self.mount, "mount_fallback"

    def health(self) -> dict:
        return {"source": self.source, "plausible": not self.issues,
                "plane": self.plane.to_dict() if self.plane is not None else None,
                "estimate": self.estimate, "issues": list(self.issues)}
