"""A finished per-sensor track as it leaves the device: times, world positions, features and
embedding — the unit the cloud links into global trajectories. No raw points inside.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TrackSegment:
    sensor_id: str
    track_id: int
    times: np.ndarray            # (T,)
    xy: np.ndarray               # (T, 2) world coordinates
    features: dict
    embedding: np.ndarray | None  # (D,) unit vector, mean over the track's frames
    truth_id: int | None = field(default=None, compare=False)   # simulations only, for evaluation

    @property
    def key(self) -> tuple[str, int]:
        return (self.sensor_id, self.track_id)

    @property
    def t_start(self) -> float:
        return float(self.times[0])

    @property
    def t_end(self) -> float:
        return float(self.times[-1])

    def velocity(self, end: bool, window_s: float = 1.0) -> np.ndarray:
        """Mean world velocity over the first or last ``window_s`` seconds."""
        if len(self.times) < 2:
            return np.zeros(2)
        if end:
            use = self.times >= self.t_end - window_s
        else:
            use = self.times <= self.t_start + window_s
        t, xy = self.times[use], self.xy[use]
        if len(t) < 2 or t[-1] - t[0] <= 0:
            t, xy = self.times, self.xy
        return (xy[-1] - xy[0]) / max(t[-1] - t[0], 1e-6)

    def to_record(self) -> dict:
        return {"sensor": self.sensor_id, "track_id": self.track_id,
                "t": np.round(self.times, 3).tolist(), "xy": np.round(self.xy, 3).tolist(),
                "features": self.features,
                "embedding": None if self.embedding is None else np.round(self.embedding, 5).tolist()}

    @classmethod
    def from_record(cls, record: dict) -> "TrackSegment":
        for key in ("sensor", "track_id", "t", "xy"):
            if key not in record:
                raise ValueError(f"track segment record lacks {key!r}")
        embedding = record.get("embedding")
        return cls(str(record["sensor"]), int(record["track_id"]), np.asarray(record["t"], float),
                   np.asarray(record["xy"], float).reshape(-1, 2), record.get("features", {}),
                   None if embedding is None else np.asarray(embedding, np.float32))
