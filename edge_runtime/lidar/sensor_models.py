"""The common spinning LiDARs as configuration: beams and their vertical angles, horizontal
resolution, range and rate — so a site is described by "VLP-16 at 2.2 m, tilted 10°" instead
of by hand-copied numbers.

Vertical angles are the data-sheet fields of view; every model listed spaces its beams evenly
(the KITTI HDL-64E does not quite: its two laser blocks are approximated by one even spread,
which is close enough for visibility and ground reasoning). ``max_range_m`` is the data-sheet
range; a site normally configures a shorter processing range (``sensor_spec(range_m=...)``).
"""
from __future__ import annotations

from dataclasses import dataclass

from edge_runtime.lidar.sensors import SensorSpec


@dataclass(frozen=True)
class SensorModel:
    name: str
    beams: int
    elevation_deg: tuple[float, float]   # lowest, highest beam
    azimuth_steps: int                   # columns per revolution at ``rate_hz``
    max_range_m: float
    rate_hz: float = 10.0
    range_noise_m: float = 0.03


MODELS: dict[str, SensorModel] = {m.name: m for m in (
    SensorModel("VLP-16", 16, (-15.0, 15.0), 1800, 100.0, range_noise_m=0.03),
    SensorModel("HDL-32E", 32, (-30.67, 10.67), 2170, 100.0, range_noise_m=0.02),
    SensorModel("HDL-64E", 64, (-24.9, 2.0), 2083, 120.0, range_noise_m=0.02),     # KITTI
    SensorModel("OS0-32", 32, (-45.0, 45.0), 1024, 50.0, range_noise_m=0.03),
    SensorModel("OS0-64", 64, (-45.0, 45.0), 1024, 50.0, range_noise_m=0.03),
    SensorModel("OS0-128", 128, (-45.0, 45.0), 1024, 50.0, range_noise_m=0.03),
    SensorModel("OS1-32", 32, (-22.5, 22.5), 1024, 120.0, range_noise_m=0.03),
    SensorModel("OS1-64", 64, (-22.5, 22.5), 1024, 120.0, range_noise_m=0.03),
    SensorModel("OS1-128", 128, (-22.5, 22.5), 1024, 120.0, range_noise_m=0.03),
)}


def sensor_model(name: str) -> SensorModel:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown LiDAR model {name!r}; known: {', '.join(MODELS)} "
                         "(or give beams/elevation_deg/azimuth_steps explicitly)") from None


def sensor_spec(model: str, sensor_id: str, x: float = 0.0, y: float = 0.0, height_m: float = 2.2,
                tilt_deg: float = 0.0, yaw_deg: float = 0.0, range_m: float | None = None,
                azimuth_steps: int | None = None, pose_known: bool = True, dropout: float = 0.02
                ) -> SensorSpec:
    """A mounted sensor of a catalogue model; ``height_m`` above the floor, ``tilt_deg`` > 0
    tilts the forward axis towards the floor, ``yaw_deg`` turns the forward axis."""
    m = sensor_model(model)
    if not 0.2 <= height_m <= 20.0:
        raise ValueError(f"sensor {sensor_id}: mount height {height_m} m outside 0.2–20 m")
    if not -60.0 <= tilt_deg <= 60.0:
        raise ValueError(f"sensor {sensor_id}: tilt {tilt_deg}° outside ±60°")
    range_m = m.max_range_m if range_m is None else float(range_m)
    if not 0.5 <= range_m <= m.max_range_m:
        raise ValueError(f"sensor {sensor_id}: range {range_m} m outside 0.5–{m.max_range_m} m for {model}")
    return SensorSpec(sensor_id, x=x, y=y, z=height_m, yaw_deg=yaw_deg, pitch_deg=tilt_deg,
                      beams=m.beams, elevation_deg=m.elevation_deg,
                      azimuth_steps=azimuth_steps or m.azimuth_steps, max_range_m=range_m,
                      range_noise_m=m.range_noise_m, dropout=dropout, model=m.name,
                      rate_hz=m.rate_hz, pose_known=pose_known)
