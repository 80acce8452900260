"""What a mounted sensor can see of a standing person, from its beam pattern and the floor.

A spinning LiDAR's beams pass a vertical line at horizontal distance ``r`` at heights
``h_e = floor height of (r cos a, r sin a, r tan e)`` — one per beam ``e``. Near the mast the
lowest beam passes above the shoulders (the blind cone: a VLP-16 at 2.2 m hits a 1.7 m person
only beyond ~2 m, and only the head there); far out the rings spread apart (sparse returns at
the range edge). The person filter uses the lowest visible height to accept head-and-shoulder
clusters where legs cannot be seen; the tracker uses the beam count to coast a track through
the blind cone instead of ending it; the health report uses the summary to say why a sensor
sees nobody.
"""
from __future__ import annotations

import numpy as np

from edge_runtime.lidar.ground import GroundPlane
from edge_runtime.lidar.sensors import SensorSpec


def beam_heights(sensor: SensorSpec, plane: GroundPlane, xy: np.ndarray) -> np.ndarray:
    """(K, B): height above the floor at which each beam passes above each sensor-frame (x, y);
    NaN where that return would lie beyond the range (``r / cos e > max_range_m``: from a high
    mount the legs at the range edge are farther than the head and are cut first)."""
    xy = np.atleast_2d(np.asarray(xy, dtype=np.float64))
    r = np.hypot(xy[:, 0], xy[:, 1])
    elevation = np.radians(sensor.beam_elevations_deg())
    tan_e = np.tan(elevation)
    n = plane.normal.astype(np.float64)
    base = xy[:, 0] * n[0] + xy[:, 1] * n[1] + plane.offset            # (K,)
    heights = base[:, None] + (r[:, None] * tan_e[None, :]) * n[2]
    beyond = r[:, None] > sensor.max_range_m * np.cos(elevation)[None, :]
    return np.where(beyond, np.nan, heights)


def lowest_visible_height(sensor: SensorSpec, plane: GroundPlane, xy: np.ndarray) -> np.ndarray:
    """(K,) the lowest body height a beam reaches above each (x, y); inf where none does."""
    heights = beam_heights(sensor, plane, xy)
    return np.where(heights >= 0.0, heights, np.inf).min(axis=1)      # NaN >= 0 is False: out of range


def beams_on_person(sensor: SensorSpec, plane: GroundPlane, xy: np.ndarray,
                    person_height_m: float = 1.55) -> np.ndarray:
    """(K,) how many beams hit a person of ``person_height_m`` standing at each (x, y)."""
    heights = beam_heights(sensor, plane, xy)
    return ((heights >= 0.0) & (heights <= person_height_m)).sum(axis=1)


def coverage_summary(sensor: SensorSpec, plane: GroundPlane, person_height_m: float = 1.55,
                     min_beams: int = 2) -> dict:
    """Blind radius, range-edge ring spacing and the share of the in-range floor where a
    person of ``person_height_m`` gets at least ``min_beams`` beams (polar grid, 72 × 40)."""
    azimuth = np.radians(np.arange(0, 360, 5.0))
    radius = np.linspace(0.2, sensor.max_range_m, 40)
    a, r = np.meshgrid(azimuth, radius, indexing="ij")
    xy = np.column_stack([(r * np.cos(a)).ravel(), (r * np.sin(a)).ravel()])
    beams = beams_on_person(sensor, plane, xy, person_height_m).reshape(a.shape)
    seen = beams >= min_beams
    first = np.where(seen.any(axis=1), radius[np.argmax(seen, axis=1)], np.inf)
    floor = (beam_heights(sensor, plane, xy) <= 0.0).any(axis=1).reshape(a.shape)
    floor_first = np.where(floor.any(axis=1), radius[np.argmax(floor, axis=1)], np.inf)
    spacing = np.radians(np.diff(sensor.beam_elevations_deg()).mean()) * sensor.max_range_m \
        if sensor.beams > 1 else np.inf
    return {"person_height_m": person_height_m, "min_beams": min_beams,
            "visible_area_fraction": round(float((seen * r).sum() / r.sum()), 3),   # area ∝ radius
            "blind_radius_m": _finite_round(np.median(first)),
            "floor_visible_from_m": _finite_round(np.median(floor_first)),
            "floor_visible_azimuth_fraction": round(float(np.isfinite(floor_first).mean()), 3),
            "ring_spacing_at_range_m": _finite_round(spacing)}


def _finite_round(value: float) -> float | None:
    return round(float(value), 2) if np.isfinite(value) else None
