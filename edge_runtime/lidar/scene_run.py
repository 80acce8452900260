"""Run the per-sensor pipelines over a whole scene — simulated in memory or read from a scene
folder — and keep what evaluation and the CLI need: per-frame tracks, finished segments (in
the order the devices would have sent them) and, for simulations, ground truth.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from edge_runtime.lidar.config import PipelineConfig
from edge_runtime.lidar.evaluation import FrameTruth, assign_truth, split_visibility
from edge_runtime.lidar.pipeline import SensorPipeline
from edge_runtime.lidar.scene_format import Scene
from edge_runtime.lidar.segment import TrackSegment
from edge_runtime.lidar.sensors import SensorSpec


@dataclass
class InputFrame:
    index: int
    t: float
    points: dict[str, np.ndarray]
    labels: dict[str, np.ndarray] | None = None
    truth: dict[int, tuple[float, float]] | None = None


@dataclass
class SceneRun:
    sensors: list[SensorSpec]
    times: list[float] = field(default_factory=list)
    tracks: dict[str, list[dict[int, tuple[float, float]]]] = field(default_factory=dict)
    segments: list[TrackSegment] = field(default_factory=list)     # in arrival order
    truth: dict[str, list[FrameTruth]] = field(default_factory=dict)
    world_truth: list[FrameTruth] = field(default_factory=list)
    latency_s: dict[str, list[float]] = field(default_factory=dict)   # wall clock per frame
    cpu_s: dict[str, list[float]] = field(default_factory=dict)       # CPU time per frame (one thread)
    points_per_frame: dict[str, list[int]] = field(default_factory=dict)
    warmup_frames: int = 0      # background learning: no detections yet, left out of scores

    def assign_segment_truth(self) -> None:
        truth_at = {round(t, 3): frame.people for t, frame in zip(self.times, self.world_truth)}
        for segment in self.segments:
            segment.truth_id = assign_truth(segment.times, segment.xy, truth_at)


def simulated_frames(simulator, progress=None) -> Iterator[InputFrame]:
    for frame in simulator.frames():
        if progress:
            progress(1)
        yield InputFrame(frame.index, frame.t, {s: f.points for s, f in frame.sensors.items()},
                         {s: f.labels for s, f in frame.sensors.items()}, frame.truth)


def folder_frames(scene: Scene, progress=None) -> Iterator[InputFrame]:
    truth = scene.ground_truth()
    for index, t in enumerate(scene.timestamps):
        if progress:
            progress(1)
        labels = {s.sensor_id: scene.read_labels(s.sensor_id, index) for s in scene.sensors}
        yield InputFrame(index, t, {s.sensor_id: scene.read_frame(s.sensor_id, index) for s in scene.sensors},
                         labels if all(v is not None for v in labels.values()) else None,
                         truth.get(index) if truth else None)


def run_scene(frames: Iterator[InputFrame], sensors: list[SensorSpec], config: PipelineConfig | None = None,
              embedder=None) -> SceneRun:
    return run_methods(frames, sensors, {"ours": lambda s: SensorPipeline(s, config, embedder)})["ours"]


def run_methods(frames: Iterator[InputFrame], sensors: list[SensorSpec], factories: dict) -> dict[str, SceneRun]:
    """Run several per-sensor methods (name → ``factory(sensor)`` giving an object with
    ``process(t, points) -> FrameOutput``, ``finish()`` and ``warmup_frames``) on the same
    frames, each frame rendered or read once — the way a peer is measured in the same run."""
    pipelines = {name: {s.sensor_id: make(s) for s in sensors} for name, make in factories.items()}
    runs = {name: SceneRun(sensors, tracks={s: [] for s in p}, truth={s: [] for s in p},
                           latency_s={s: [] for s in p}, cpu_s={s: [] for s in p},
                           points_per_frame={s: [] for s in p},
                           warmup_frames=max(q.warmup_frames for q in p.values()))
            for name, p in pipelines.items()}
    for frame in frames:
        visibility = {}
        if frame.labels is not None and frame.truth is not None:
            visibility = {s: split_visibility(frame.labels[s], frame.truth) for s in frame.points}
        for name, per_sensor in pipelines.items():
            _run_frame(runs[name], per_sensor, frame, visibility)
    for name, per_sensor in pipelines.items():
        for pipeline in per_sensor.values():
            runs[name].segments.extend(pipeline.finish())
        if runs[name].world_truth:
            runs[name].assign_segment_truth()
    return runs


def _run_frame(run: SceneRun, pipelines: dict, frame: InputFrame, visibility: dict) -> None:
    run.times.append(frame.t)
    world = FrameTruth()
    for sensor_id, pipeline in pipelines.items():
        points = frame.points[sensor_id]
        start, cpu_start = time.perf_counter(), time.thread_time()
        output = pipeline.process(frame.t, points)
        run.latency_s[sensor_id].append(time.perf_counter() - start)
        run.cpu_s[sensor_id].append(time.thread_time() - cpu_start)
        run.points_per_frame[sensor_id].append(len(points))
        hypotheses = {int(tr["id"]): (tr["x"], tr["y"]) for tr in output.tracks}
        run.tracks[sensor_id].append(hypotheses)
        run.segments.extend(output.finished)
        if visibility:
            visible, ignored = visibility[sensor_id]
            run.truth[sensor_id].append(FrameTruth(visible, ignored, hypotheses))
            world.people.update(visible)
            world.ignored.extend(ignored)
    if frame.truth is not None:
        world.ignored = [xy for xy in world.ignored if xy not in world.people.values()]
        run.world_truth.append(world)
