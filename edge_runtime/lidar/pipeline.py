"""The static-sensor path on the device: ground → background → clustering → person filter →
tracking → features and embeddings. Frames in, world-frame tracks and finished segments out.

The floor comes from the mount (``ground_model``); what the beams can reach comes from the
sensor model (``visibility``) and feeds the person filter (head-and-shoulder clusters near the
mast) and the tracker (coasting through the blind cone). ``health()`` gathers every reason the
sensor may be seeing less than it should, so an empty output always comes with a reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge_runtime.lidar.background import OccupancyBackground
from edge_runtime.lidar.config import PipelineConfig
from edge_runtime.lidar.detect import Detection, detect_people
from edge_runtime.lidar.features import batch_detection_features, batch_embedding_input, segment_features
from edge_runtime.lidar.ground_model import GroundModel
from edge_runtime.lidar.health import SensorHealth
from edge_runtime.lidar.segment import TrackSegment
from edge_runtime.lidar.sensors import SensorSpec
from edge_runtime.lidar.tracker import MultiObjectTracker, Track
from edge_runtime.lidar.visibility import beams_on_person, lowest_visible_height


@dataclass
class FrameOutput:
    t: float
    tracks: list[dict] = field(default_factory=list)            # live confirmed tracks, world frame
    finished: list[TrackSegment] = field(default_factory=list)  # tracks that ended this frame
    detections: int = 0


@dataclass
class _Observation:
    """What a track keeps per frame once processed: features and embedding, no points."""

    features: np.ndarray
    embedding: np.ndarray | None


class SensorPipeline:
    def __init__(self, sensor: SensorSpec, config: PipelineConfig | None = None, embedder=None):
        self.sensor = sensor
        self.config = config or PipelineConfig()
        self.embedder = embedder
        self.background = OccupancyBackground(self.config.background)
        self.ground = GroundModel(sensor, self.config.ground)
        self.tracker = MultiObjectTracker(self.config.tracker, blind=self._blind, outside=self._outside)
        self.health_monitor = SensorHealth(sensor, self.config)

    @property
    def plane(self):
        return self.ground.plane

    @property
    def warmup_frames(self) -> int:
        """Frames before detection can start: floor estimate (nominal mounts) + background."""
        return self.ground.warmup_frames + self.config.background.learn_frames

    def _blind(self, xy: np.ndarray) -> np.ndarray:
        """Inside the range but with too few beams on a person: the tracker coasts there."""
        inside = np.hypot(xy[:, 0], xy[:, 1]) < self.sensor.max_range_m
        return inside & (beams_on_person(self.sensor, self.plane, xy) < self.config.tracker.blind_min_beams)

    def _outside(self, xy: np.ndarray) -> np.ndarray:
        """Beyond the range less the exit margin: a track lost there has walked out of view."""
        margin = self.config.tracker.exit_margin_m
        return np.hypot(xy[:, 0], xy[:, 1]) > self.sensor.max_range_m - margin

    def _lowest_visible(self, xy: np.ndarray) -> np.ndarray:
        return lowest_visible_height(self.sensor, self.plane, xy)

    def process(self, t: float, points: np.ndarray) -> FrameOutput:
        detections = self.detect(points)
        return FrameOutput(t) if detections is None else self.track(t, detections)

    def detect(self, points: np.ndarray) -> list[Detection] | None:
        """Floor → band → background → person candidates; ``None`` while still warming up.
        Split from ``track`` so a benchmark can record detections once and replay trackers."""
        inside = points[:, 0] ** 2 + points[:, 1] ** 2 <= self.sensor.max_range_m ** 2
        if self.ground.wants_frames:
            self.ground.observe(points[inside])
        if self.plane is None:                         # still estimating the floor
            self.health_monitor.frame(int(inside.sum()), None, 0)
            return None
        # Only points in the body-height band can belong to a person: the background model
        # sees that band alone, which skips the floor and ceiling (most of the cloud).
        height = self.plane.height(points)
        band = inside & (height > self.config.cluster.min_height_m) & (height < self.config.cluster.max_height_m)
        points, height = points[band], height[band]
        foreground = self.background.observe(points)
        if foreground is None:           # still learning the background
            self.health_monitor.frame(len(points), None, 0)
            return None
        detections = detect_people(points, self.config, self.plane, foreground, height,
                                   lowest_visible=self._lowest_visible)
        self.health_monitor.frame(len(points), int(foreground.sum()), len(detections))
        return detections

    def track(self, t: float, detections: list[Detection]) -> FrameOutput:
        """Tracking, features and embeddings for one frame's detections."""
        positions = np.array([[d.x, d.y] for d in detections]).reshape(-1, 2)
        heights = np.array([d.height for d in detections])
        seen, ended = self.tracker.step(t, positions, detections, heights)
        self._describe(seen)
        output = FrameOutput(t, detections=len(detections))
        for track in seen:
            xy = self.sensor.xy_to_world(track.filter.position, self._ground_z(track.filter.position))[0]
            velocity = self.sensor.rotation()[:2, :2] @ track.filter.velocity
            output.tracks.append({"id": track.track_id, "x": float(xy[0]), "y": float(xy[1]),
                                  "vx": float(velocity[0]), "vy": float(velocity[1])})
        output.finished = [self._segment(track) for track in ended]
        return output

    def health(self) -> dict:
        """Ground, background and coverage in one report; ``status`` is ok / degraded / blind."""
        return self.health_monitor.report(self.ground, self.background)

    def finish(self) -> list[TrackSegment]:
        """End of the recording: every confirmed track becomes a segment."""
        return [self._segment(track) for track in self.tracker.flush()]

    def _ground_z(self, xy: np.ndarray) -> np.ndarray:
        return self.plane.ground_z(np.atleast_2d(xy))

    def _describe(self, tracks: list[Track]) -> None:
        """Turn the raw detections the tracks hold into features + embeddings (batched)."""
        pending = [(track, i) for track in tracks for i, p in enumerate(track.payloads) if isinstance(p, Detection)]
        if not pending:
            return
        clouds = [track.payloads[i].points for track, i in pending]
        starts = np.concatenate([[0], np.cumsum([len(c) for c in clouds])])
        points = np.concatenate(clouds)
        headings = np.array([track.filter.velocity for track, _ in pending])
        rows = batch_detection_features(points, starts, headings)
        embeddings = (self.embedder.embed(batch_embedding_input(points, starts, headings))
                      if self.embedder is not None else [None] * len(rows))
        for (track, i), row, embedding in zip(pending, rows, embeddings):
            track.payloads[i] = _Observation(row, embedding)

    def _segment(self, track: Track) -> TrackSegment:
        self._describe([track])
        times = np.asarray(track.times)
        positions = np.asarray(track.positions)
        world = self.sensor.xy_to_world(positions, self._ground_z(positions))
        rows = np.stack([p.features for p in track.payloads])
        embeddings = [p.embedding for p in track.payloads if p.embedding is not None]
        embedding = None
        if embeddings:
            mean = np.mean(embeddings, axis=0)
            embedding = (mean / max(np.linalg.norm(mean), 1e-9)).astype(np.float32)
        return TrackSegment(self.sensor.sensor_id, track.track_id, times, world,
                            segment_features(times, rows, self._ring_spacing(positions)), embedding)

    def _ring_spacing(self, xy: np.ndarray) -> np.ndarray:
        """Vertical distance between neighbouring beams at each position's range."""
        if self.sensor.beams < 2:
            return np.zeros(len(xy))
        step = np.radians(np.diff(self.sensor.elevation_deg)[0] / (self.sensor.beams - 1))
        return np.hypot(xy[:, 0], xy[:, 1]) * step
