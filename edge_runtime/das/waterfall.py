"""A coarse waterfall of the last minute for dashboards: |strain rate| in time × channel bins.

Raw DAS data (hundreds of channels at hundreds of Hz) never leaves the device; this
thumbnail (120 × 48 values in [0, 1], log-scaled) is a few kB and still shows the vehicle
lines of both lanes that a person wants to see next to the detections. It is made from the
detector's own envelope (band-passed, channel-binned), not from raw strain rate: in raw
data the lane 3 m from the cable drowns in noise at this resolution.
"""
from __future__ import annotations

from typing import Any

import numpy as np


class WaterfallThumbnail:
    def __init__(self, fs: float, n_channels: int, span_s: float = 60.0, rows: int = 120, cols: int = 48,
                 time0_s: float = 0.0):
        """``fs``: rows per second of what ``push`` gets; ``time0_s``: time of its first row."""
        self.time0_s = time0_s
        self.block = max(1, int(round(fs * span_s / rows)))    # samples per image row
        self.row_s = self.block / fs
        self.rows = rows
        self.cols = min(cols, n_channels)
        self.edges = np.linspace(0, n_channels, self.cols + 1).astype(int)
        self.image = np.zeros((0, self.cols), np.float32)
        self.carry = np.zeros((0, n_channels), np.float32)     # samples not yet filling a row
        self.rows_done = 0                                     # rows ever made (for the time axis)

    def push(self, chunk: np.ndarray) -> None:
        data = np.concatenate([self.carry, np.asarray(chunk, np.float32)])
        full = len(data) // self.block * self.block
        self.carry = data[full:]
        if not full:
            return
        blocks = data[:full].reshape(-1, self.block, data.shape[1]).mean(axis=1)
        binned = np.add.reduceat(blocks, self.edges[:-1], axis=1) / np.diff(self.edges)
        self.image = np.concatenate([self.image, binned])[-self.rows:]
        self.rows_done += len(binned)

    def record(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """The dashboard's ``waterfall`` record: image scaled to [0, 1] and the lines in view."""
        t0 = self.time0_s + (self.rows_done - len(self.image)) * self.row_s
        duration = max(len(self.image) * self.row_s, self.row_s)
        image = _compress(self.image).round(2)
        lines = [{k: e[k] for k in ("t_entry_s", "t_exit_s", "speed_kmh", "class") if k in e}
                 for e in events if e.get("t_exit_s", -1) >= t0 and e.get("t_entry_s", 1e18) <= t0 + duration]
        return {"type": "waterfall", "t0_s": round(t0, 3), "duration_s": round(duration, 3),
                "image": image.tolist(), "lines": lines}


def _compress(image: np.ndarray) -> np.ndarray:
    """Log scale between the noise floor (median) and the 99.5th percentile: the far lane,
    a few times weaker than the lane over the cable, must stay visible next to it."""
    if not image.size:
        return image
    floor, top = np.percentile(image, [50, 99.5])
    floor = max(float(floor), 1e-12)
    return np.clip(np.log(np.maximum(image, floor) / floor) / max(np.log(top / floor), 1e-6), 0, 1)
