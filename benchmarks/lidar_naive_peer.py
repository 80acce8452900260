"""The naive prototype of issue 18, as a benchmark peer (not product code).

Per sensor: range-image background subtraction (a pixel's background range is the farthest
return it gave while learning; a return 0.3 m nearer is foreground — the floor and walls drop
out with no ground fit) → bird's-eye-view clustering of the foreground (0.2 m grid,
8-connected) → a size filter → constant-velocity Kalman + Hungarian (AB3DMOT's pedestrian
setting: 1 m gate, born after 3 hits, dies after 2 misses). Across sensors: links by transit
time (exit-to-entry distance at the walking speed) and height, one Hungarian assignment.
It knows the mounting pose (for heights and world coordinates), as the project does.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge_runtime.lidar.clustering import cluster_ground_plane
from edge_runtime.lidar.config import TrackerConfig
from edge_runtime.lidar.person_filter import cluster_stats
from edge_runtime.lidar.pipeline import FrameOutput
from edge_runtime.lidar.segment import TrackSegment
from edge_runtime.lidar.sensors import SensorSpec
from edge_runtime.lidar.tracker import MultiObjectTracker

LEARN_FRAMES = 20
FOREGROUND_MARGIN_M = 0.3


class NaiveRangeImagePipeline:
    """Range-image background → BEV clusters → CV Kalman + Hungarian, for one sensor."""

    def __init__(self, sensor: SensorSpec):
        self.sensor = sensor
        self.rows, self.cols = sensor.beams, sensor.azimuth_steps
        # The prototype's own tracker: none of the project's merge coasting, edge gate or heights.
        self.tracker = MultiObjectTracker(TrackerConfig(merge_radius_m=0.0, edge_gate_m=0.0, height_weight=0.0,
                                                        lone_max_misses=0))
        self._learning: list[np.ndarray] = []
        self.background: np.ndarray | None = None
        self.warmup_frames = LEARN_FRAMES

    def _range_image(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pixel index per point, range per point)."""
        r = np.linalg.norm(points[:, :3], axis=1)
        low, high = np.radians(self.sensor.elevation_deg)
        elevation = np.arctan2(points[:, 2], np.hypot(points[:, 0], points[:, 1]))
        step = (high - low) / max(self.rows - 1, 1)
        row = np.clip(np.round((elevation - low) / step), 0, self.rows - 1).astype(np.int64)
        azimuth = np.mod(np.arctan2(points[:, 1], points[:, 0]), 2 * np.pi)
        col = np.minimum((azimuth / (2 * np.pi) * self.cols).astype(np.int64), self.cols - 1)
        return row * self.cols + col, r

    def process(self, t: float, points: np.ndarray) -> FrameOutput:
        pixel, r = self._range_image(points)
        if self.background is None:
            image = np.zeros(self.rows * self.cols)
            np.maximum.at(image, pixel, r)
            self._learning.append(image)
            if len(self._learning) >= LEARN_FRAMES:
                self.background = np.max(self._learning, axis=0)
                self.background[self.background == 0] = np.inf     # never returned: all is foreground
                self._learning = []
            return FrameOutput(t)
        foreground = r < self.background[pixel] - FOREGROUND_MARGIN_M
        world = self.sensor.to_world(points[foreground])
        detections, heights = self._detect(world)
        seen, ended = self.tracker.step(t, detections, [float(h) for h in heights])
        output = FrameOutput(t, detections=len(detections))
        output.tracks = [{"id": tr.track_id, "x": float(tr.filter.position[0]), "y": float(tr.filter.position[1])}
                         for tr in seen]
        output.finished = [self._segment(tr) for tr in ended]
        return output

    def _detect(self, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        body = world[(world[:, 2] > 0.1) & (world[:, 2] < 2.4)]
        if len(body) == 0:
            return np.zeros((0, 2)), np.zeros(0)
        labels = cluster_ground_plane(body[:, :2], 0.2)
        stats = cluster_stats(body[:, :2], body[:, 2], labels)
        longest = stats.extent.max(axis=1)
        keep = (stats.count >= 5) & (longest <= 1.2) & (stats.top >= 0.8) & (stats.top <= 2.3)
        return stats.centre_xy[keep], stats.top[keep]

    def finish(self) -> list[TrackSegment]:
        return [self._segment(tr) for tr in self.tracker.flush()]

    def _segment(self, track) -> TrackSegment:
        heights = np.asarray(track.payloads, dtype=float)
        return TrackSegment(self.sensor.sensor_id, track.track_id, np.asarray(track.times),
                            np.asarray(track.positions), {"height": float(np.percentile(heights, 90))}, None)


@dataclass
class _Config:
    min_frames: int = 1


@dataclass
class NaiveLinker:
    """Links each entry to an exit on another sensor by transit time and height."""

    max_gap_s: float = 30.0
    height_sigma_m: float = 0.1
    max_cost: float = 9.0
    config: _Config = field(default_factory=_Config)
    segments: dict = field(default_factory=dict)
    global_id: dict = field(default_factory=dict)
    links: set = field(default_factory=set)

    def link(self, segments: list[TrackSegment]) -> "NaiveLinker":
        self.segments = {s.key: s for s in segments}
        keys = sorted(self.segments, key=lambda k: self.segments[k].t_start)
        cost = np.full((len(keys), len(keys)), np.inf)
        for i, j in itertools.permutations(range(len(keys)), 2):
            cost[i, j] = self._cost(self.segments[keys[i]], self.segments[keys[j]])
        if len(keys):
            capped = np.where(cost <= self.max_cost, cost, self.max_cost + 1)
            rows, cols = linear_sum_assignment(capped)
            self.links = {(keys[r], keys[c]) for r, c in zip(rows, cols) if cost[r, c] <= self.max_cost}
        successor = dict(self.links)
        predecessor = {b: a for a, b in self.links}
        ids = itertools.count(1)
        for key in keys:
            if key in predecessor:
                continue
            gid, node = next(ids), key
            while node is not None and node not in self.global_id:
                self.global_id[node] = gid
                node = successor.get(node)
        return self

    def _cost(self, before: TrackSegment, after: TrackSegment) -> float:
        gap = after.t_start - before.t_end
        if before.sensor_id == after.sensor_id or not 0 < gap <= self.max_gap_s:
            return np.inf
        speed = 0.5 * (np.linalg.norm(before.velocity(end=True)) + np.linalg.norm(after.velocity(end=False)))
        distance = float(np.linalg.norm(after.xy[0] - before.xy[-1]))
        expected = distance / max(speed, 0.3)
        sigma = 0.3 * expected + 0.5
        dh = before.features["height"] - after.features["height"]
        return ((gap - expected) / sigma) ** 2 + (dh / self.height_sigma_m) ** 2
