"""The scene folder: what ``lidar simulate`` writes and ``lidar track`` reads.

```
scene/
  scene.json            {"format": "edge-runtime-lidar-scene/1", "frame_rate_hz": 10.0,
                         "n_frames": 600, "timestamps": [0.0, 0.1, ...],
                         "sensors": [{"sensor_id": "s0", "x": .., "y": .., "z": .., "yaw_deg": ..,
                                      "pitch_deg": .., "beams": .., ...}, ...],
                         "people": [{"person_id": 1, "height": ..., ...}]  (simulated scenes only)}
  s0/000000.npy         one frame of sensor s0: (N, 3) float32 x, y, z in the sensor frame
  s0/000001.npy         (any reader format works: .npy, .bin, .pcd, .ply)
  labels/s0/000000.npy  optional: (N,) int16 person id of each point (0 = background)
  ground_truth.csv      optional: frame,t,person_id,x,y   (world coordinates)
```
Frames of all sensors share the frame index; ``timestamps[i]`` is the time of frame ``i``.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from edge_runtime.lidar.readers import SUPPORTED_SUFFIXES, read_points
from edge_runtime.lidar.sensors import SensorSpec

FORMAT = "edge-runtime-lidar-scene/1"


@dataclass
class Scene:
    root: Path
    frame_rate_hz: float
    timestamps: list[float]
    sensors: list[SensorSpec]
    people: list[dict]

    @property
    def n_frames(self) -> int:
        return len(self.timestamps)

    def frame_path(self, sensor_id: str, index: int) -> Path:
        folder = self.root / sensor_id
        for suffix in SUPPORTED_SUFFIXES:
            path = folder / f"{index:06d}{suffix}"
            if path.exists():
                return path
        raise FileNotFoundError(f"scene {self.root}: no frame {index:06d} for sensor {sensor_id} in {folder}")

    def read_frame(self, sensor_id: str, index: int) -> np.ndarray:
        return read_points(self.frame_path(sensor_id, index))

    def read_labels(self, sensor_id: str, index: int) -> np.ndarray | None:
        path = self.root / "labels" / sensor_id / f"{index:06d}.npy"
        return np.load(path) if path.exists() else None

    def ground_truth(self) -> dict[int, dict[int, tuple[float, float]]]:
        """frame -> {person id -> world (x, y)}; empty when the scene has none."""
        path = self.root / "ground_truth.csv"
        truth: dict[int, dict[int, tuple[float, float]]] = {}
        if path.exists():
            with path.open() as handle:
                for row in csv.DictReader(handle):
                    truth.setdefault(int(row["frame"]), {})[int(row["person_id"])] = (float(row["x"]), float(row["y"]))
        return truth


def read_scene(root: str | Path) -> Scene:
    root = Path(root)
    meta_path = root / "scene.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{root} is not a scene folder: {meta_path} is missing "
                                "(create one with 'edge-runtime lidar simulate OUT')")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{meta_path}: format {meta.get('format')!r} is not {FORMAT!r}")
    for key in ("frame_rate_hz", "sensors"):
        if key not in meta:
            raise ValueError(f"{meta_path}: missing key {key!r}")
    rate = float(meta["frame_rate_hz"])
    timestamps = meta.get("timestamps") or [i / rate for i in range(int(meta["n_frames"]))]
    return Scene(root, rate, [float(t) for t in timestamps],
                 [SensorSpec.from_dict(s) for s in meta["sensors"]], meta.get("people", []))


class SceneWriter:
    """Writes frames as they are produced, then the metadata on ``close``."""

    def __init__(self, root: str | Path, sensors: list[SensorSpec], frame_rate_hz: float,
                 people: list[dict] | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.sensors, self.rate, self.people = sensors, frame_rate_hz, people or []
        self.timestamps: list[float] = []
        for sensor in sensors:
            (self.root / sensor.sensor_id).mkdir(exist_ok=True)
            (self.root / "labels" / sensor.sensor_id).mkdir(parents=True, exist_ok=True)
        self._truth = (self.root / "ground_truth.csv").open("w", newline="")
        self._csv = csv.writer(self._truth)
        self._csv.writerow(["frame", "t", "person_id", "x", "y"])

    def write(self, index: int, t: float, frames: dict, truth: dict[int, tuple[float, float]]) -> None:
        for sensor_id, frame in frames.items():
            np.save(self.root / sensor_id / f"{index:06d}.npy", frame.points)
            np.save(self.root / "labels" / sensor_id / f"{index:06d}.npy", frame.labels)
        for pid, (x, y) in sorted(truth.items()):
            self._csv.writerow([index, f"{t:.3f}", pid, f"{x:.3f}", f"{y:.3f}"])
        self.timestamps.append(round(t, 6))

    def close(self) -> None:
        self._truth.close()
        meta = {"format": FORMAT, "frame_rate_hz": self.rate, "n_frames": len(self.timestamps),
                "timestamps": self.timestamps, "sensors": [s.to_dict() for s in self.sensors],
                "people": self.people}
        (self.root / "scene.json").write_text(json.dumps(meta, indent=1))


def iterate_sensor(scene: Scene, sensor_id: str) -> Iterator[tuple[int, float, np.ndarray]]:
    for index, t in enumerate(scene.timestamps):
        yield index, t, scene.read_frame(sensor_id, index)
