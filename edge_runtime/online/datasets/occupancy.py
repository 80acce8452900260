"""UCI Occupancy Detection (Candanedo & Feldheim 2016): one office room, 1 sample/min.

``datatraining.txt`` covers 2015-02-04 → 02-10 (the first week), ``datatest2.txt``
2015-02-11 → 02-18 (the later week: same room, drifted conditions). Features are the
five sensor columns; the timestamp is kept for splitting into days (FL devices).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_runtime.data_paths import require_shared_data

FEATURES = ("Temperature", "Humidity", "Light", "CO2", "HumidityRatio")
FIRST_WEEK = "datatraining.txt"
LATER_WEEK = "datatest2.txt"


@dataclass
class OccupancySplit:
    x: np.ndarray            # (n, 5) float32 sensor readings
    y: np.ndarray            # (n,) int64 0/1 occupancy
    timestamps: np.ndarray   # (n,) datetime64[s]

    @property
    def days(self) -> np.ndarray:
        """Calendar day of every row (datetime64[D])."""
        return self.timestamps.astype("datetime64[D]")


def load_occupancy(name: str = FIRST_WEEK, root: Path | None = None) -> OccupancySplit:
    """Read one of the occupancy CSV files; validates the header."""
    path = (root or require_shared_data("occupancy")) / name
    if not path.is_file():
        raise FileNotFoundError(f"occupancy file {path} not found; expected one of "
                                f"{FIRST_WEEK}, datatest.txt, {LATER_WEEK}")
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        expected = ["Date", *FEATURES, "Occupancy"]
        if [h.strip() for h in header[-7:]] != expected:
            raise ValueError(f"{path}: unexpected header {header}; expected {expected}")
        rows = list(reader)
    stamps = np.array([r[-7].replace(" ", "T") for r in rows], dtype="datetime64[s]")
    values = np.array([r[-6:] for r in rows], dtype=np.float64)
    return OccupancySplit(values[:, :5].astype(np.float32), values[:, 5].astype(np.int64), stamps)
