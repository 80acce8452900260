"""A coarse waterfall of the last minute for dashboards: |strain rate| in time × channel bins.

Raw DAS data (hundreds of channels at hundreds of Hz) never leaves the device; this
thumbnail (60 × 64 values in [0, 1]) is a few kB and still shows the vehicle lines a
person wants to see next to the detections.
"""
from __future__ import annotations

from typing import Any

import numpy as np


class WaterfallThumbnail:
    def __init__(self, fs: float, n_channels: int, span_s: float = 60.0, rows: int = 60, cols: int = 64):
        self.block = max(1, int(round(fs * span_s / rows)))    # samples per image row
        self.row_s = self.block / fs
        self.rows = rows
        self.cols = min(cols, n_channels)
        self.edges = np.linspace(0, n_channels, self.cols + 1).astype(int)
        self.image = np.zeros((0, self.cols), np.float32)
        self.carry = np.zeros((0, n_channels), np.float32)     # samples not yet filling a row
        self.rows_done = 0                                     # rows ever made (for the time axis)

    def push(self, chunk: np.ndarray) -> None:
        data = np.concatenate([self.carry, np.abs(np.asarray(chunk, np.float32))])
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
        t0 = (self.rows_done - len(self.image)) * self.row_s
        duration = max(len(self.image) * self.row_s, self.row_s)
        scale = float(np.percentile(self.image, 99)) if self.image.size else 1.0
        image = np.clip(self.image / (scale or 1.0), 0, 1).round(2)
        lines = [{k: e[k] for k in ("t_entry_s", "t_exit_s", "speed_kmh", "class") if k in e}
                 for e in events if e.get("t_exit_s", -1) >= t0 and e.get("t_entry_s", 1e18) <= t0 + duration]
        return {"type": "waterfall", "t0_s": round(t0, 3), "duration_s": round(duration, 3),
                "image": image.tolist(), "lines": lines}
