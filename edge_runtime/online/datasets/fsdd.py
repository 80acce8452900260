"""Free Spoken Digit Dataset: ``recordings/{digit}_{speaker}_{index}.wav``, 8 kHz mono.

Speaker = device. Features are the on-device front end's fixed-length MFCCs, computed
once per process (3,000 short files take a few seconds).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from edge_runtime.data_paths import require_shared_data
from edge_runtime.online.audio import fixed_length_log_mel, fixed_length_mfcc, read_wav

NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


@dataclass
class FsddFeatures:
    x: np.ndarray         # (n, features) float32
    digit: np.ndarray     # (n,) int64
    speaker: np.ndarray   # (n,) str
    take: np.ndarray      # (n,) int64; 0-4 is the official test split

    def subset(self, mask: np.ndarray) -> "FsddFeatures":
        return FsddFeatures(self.x[mask], self.digit[mask], self.speaker[mask], self.take[mask])


@lru_cache(maxsize=2)
def load_fsdd(root: Path | None = None, max_take: int = 50, n_frames: int = 16, front_end: str = "mfcc") -> FsddFeatures:
    """Features of every recording with take index < ``max_take`` (smaller = faster tests):
    ``front_end`` "mfcc" (n_frames × 13 MFCC) or "log_mel" (n_frames × 20 log-mel, for CNNs)."""
    fronts = {"mfcc": fixed_length_mfcc, "log_mel": fixed_length_log_mel}
    if front_end not in fronts:
        raise ValueError(f"unknown FSDD front end {front_end!r}; choose from {sorted(fronts)}")
    folder = (root or require_shared_data("fsdd")) / "recordings"
    if not folder.is_dir():
        raise FileNotFoundError(f"FSDD recordings folder {folder} not found")
    rows, feats = [], []
    for path in sorted(folder.iterdir()):
        m = NAME.match(path.name)
        if not m or int(m.group(3)) >= max_take:
            continue
        signal, rate = read_wav(path)
        feats.append(fronts[front_end](signal, rate, n_frames=n_frames))
        rows.append((int(m.group(1)), m.group(2), int(m.group(3))))
    if not rows:
        raise FileNotFoundError(f"no FSDD recordings matching {NAME.pattern} in {folder}")
    digit, speaker, take = zip(*rows)
    return FsddFeatures(np.stack(feats), np.array(digit), np.array(speaker), np.array(take))
