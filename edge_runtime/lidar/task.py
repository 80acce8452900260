"""The agent task: one static LiDAR's per-sensor path on the device.

Reads the sensor's frames (from a scene folder — a recording or a live writer filling it),
runs background → ground → clustering → person filter → tracking → features/embedding, and
returns records for delivery: live tracks per frame and finished track segments with their
features and embedding. Raw points never leave the device; no record carries them.

Config (agent ``tasks:`` entry)::

    {kind: lidar, name: hall-s0, interval_s: 0.1,
     params: {scene: /data/hall, sensor: s0, frames_per_step: 1, loop: false,
              model: <path to .onnx, default bundled>, embedding: true,
              config: {tracker: {gate_m: 1.0}}}}
"""
from __future__ import annotations

from typing import Any

from edge_runtime.agent.task import Task
from edge_runtime.lidar.config import PipelineConfig


class LidarTrackingTask(Task):
    kind = "lidar"

    def __init__(self, name, params, context):
        super().__init__(name, params, context)
        from edge_runtime.lidar.embedding import DEFAULT_MODEL, PersonEmbedder
        from edge_runtime.lidar.pipeline import SensorPipeline
        from edge_runtime.lidar.scene_format import read_scene

        if "scene" not in self.params:
            raise ValueError(f"lidar task {name!r}: params.scene (a scene folder) is required")
        self.scene = read_scene(self.params["scene"])
        sensors = {s.sensor_id: s for s in self.scene.sensors}
        sensor_id = self.params.get("sensor", self.scene.sensors[0].sensor_id)
        if sensor_id not in sensors:
            raise ValueError(f"lidar task {name!r}: sensor {sensor_id!r} not in scene "
                             f"{self.scene.root} (has {', '.join(sensors)})")
        self.sensor = sensors[sensor_id]
        self.embedder = (PersonEmbedder(self.params.get("model", DEFAULT_MODEL))
                         if self.params.get("embedding", True) else None)
        self.pipeline = SensorPipeline(self.sensor, PipelineConfig.from_dict(self.params.get("config")),
                                       self.embedder)
        self.frames_per_step = int(self.params.get("frames_per_step", 1))
        self.loop = bool(self.params.get("loop", False))
        self.next_frame = 0
        self.loops = 0
        stamps = self.scene.timestamps
        self._period_s = (float(stamps[-1] - stamps[0]) * len(stamps) / max(1, len(stamps) - 1)
                          if len(stamps) > 1 else 1.0)
        self.segments_sent = 0
        self._last_health: tuple | None = None

    def step(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for _ in range(self.frames_per_step):
            if self.next_frame >= self.scene.n_frames:
                if not self.loop:
                    records.extend(self._segments(self.pipeline.finish()))
                    break
                self.next_frame = 0
                self.loops += 1            # time goes on across replays: trackers never see it go back
            index = self.next_frame
            t = self.scene.timestamps[index] + self.loops * self._period_s
            output = self.pipeline.process(t, self.scene.read_frame(self.sensor.sensor_id, index))
            self.next_frame += 1
            health = self.pipeline.health()
            records.append({"type": "tracks", "sensor": self.sensor.sensor_id, "frame": index,
                            "t": round(t, 3), "health": health["status"],
                            "tracks": [{k: round(v, 3) if isinstance(v, float) else v
                                        for k, v in tr.items()} for tr in output.tracks]})
            if (health["status"], health["issues"]) != self._last_health:
                # A change of health is its own record: the reason travels with the results.
                self._last_health = (health["status"], health["issues"])
                records.append({"type": "health", "sensor": self.sensor.sensor_id, "frame": index,
                                "status": health["status"], "issues": health["issues"]})
            records.extend(self._segments(output.finished))
        return records

    def _segments(self, segments) -> list[dict[str, Any]]:
        self.segments_sent += len(segments)
        return [{"type": "segment", **segment.to_record()} for segment in segments]

    def status(self) -> dict[str, Any]:
        return {"sensor": self.sensor.sensor_id, "frames": self.next_frame, "of": self.scene.n_frames,
                "segments_sent": self.segments_sent, "background": self.pipeline.background.status(),
                "health": self.pipeline.health(),
                "embedding": self.embedder.status() if self.embedder else None}
