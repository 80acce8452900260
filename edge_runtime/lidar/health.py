"""A sensor's health: every reason it may be seeing less than it should, in one report.

The shipped pipeline once returned zero tracks for a 16-beam sensor with no error and no
warning. This report is what the agent task puts into its status (heartbeat) and into the
tracks records, so an empty output always comes with a reason: an implausible floor, a
background model that calls most of the scene foreground, beams that cannot reach a person
over most of the floor, no points at all, or a long stretch without a single candidate.
"""
from __future__ import annotations

import numpy as np

from edge_runtime.lidar.config import PipelineConfig
from edge_runtime.lidar.sensors import SensorSpec
from edge_runtime.lidar.visibility import coverage_summary

QUIET_FRAMES = 300              # 30 s at 10 Hz without a candidate while foreground exists
MAX_FOREGROUND_FRACTION = 0.5   # more than this of the body band in foreground: background is wrong
MIN_VISIBLE_AREA = 0.25         # share of the in-range floor where a person gets enough beams


class SensorHealth:
    def __init__(self, sensor: SensorSpec, config: PipelineConfig):
        self.sensor, self.config = sensor, config
        self.frames = 0
        self.empty_frames = 0               # consecutive frames with no points
        self.quiet_frames = 0               # consecutive detecting frames with foreground, no candidate
        self.detections = 0
        self._foreground = 0.0              # running mean of the foreground share of the band
        self._scored = 0
        self._coverage: dict | None = None

    def frame(self, band_points: int, foreground_points: int | None, detections: int) -> None:
        self.frames += 1
        self.empty_frames = self.empty_frames + 1 if band_points == 0 else 0
        if foreground_points is None:
            return
        self.detections += detections
        self._scored += 1
        share = foreground_points / band_points if band_points else 0.0
        self._foreground += (share - self._foreground) / min(self._scored, 100)
        self.quiet_frames = self.quiet_frames + 1 if detections == 0 and foreground_points > 0 else 0

    def coverage(self, plane) -> dict:
        if self._coverage is None and plane is not None:
            self._coverage = coverage_summary(self.sensor, plane, min_beams=self.config.tracker.blind_min_beams)
        return self._coverage or {}

    def report(self, ground, background) -> dict:
        issues = list(ground.issues)
        coverage = self.coverage(ground.plane)
        blind = False
        if coverage and coverage["visible_area_fraction"] == 0.0:
            blind = True
            issues.append(f"no beam of this {self.sensor.model or f'{self.sensor.beams}-beam'} sensor reaches a "
                          f"{coverage['person_height_m']} m person anywhere within {self.sensor.max_range_m} m "
                          f"from {self.sensor.z} m, tilt {self.sensor.pitch_deg}°: change the mount or range")
        elif coverage and coverage["visible_area_fraction"] < MIN_VISIBLE_AREA:
            issues.append(f"beams reach a {coverage['person_height_m']} m person on only "
                          f"{coverage['visible_area_fraction']:.0%} of the in-range floor "
                          f"(blind radius {coverage['blind_radius_m']} m)")
        if self.empty_frames >= 10:
            blind = True
            issues.append(f"no points for {self.empty_frames} frames within {self.sensor.max_range_m} m")
        if background.ready and self._scored >= 50 and self._foreground > MAX_FOREGROUND_FRACTION:
            issues.append(f"background implausible: {self._foreground:.0%} of the body-height points are "
                          "foreground on average (scene changed, or the sensor moves)")
        if self.quiet_frames >= QUIET_FRAMES:
            issues.append(f"no person candidate for {self.quiet_frames} frames although foreground points "
                          "are present: check the floor, the mount and the person filter")
        status = "blind" if blind else ("degraded" if issues else "ok")
        return {"status": status, "issues": issues, "frames": self.frames, "detections": self.detections,
                "foreground_fraction": round(float(self._foreground), 4),
                "ground": ground.health(), "background": background.status(), "coverage": coverage}
