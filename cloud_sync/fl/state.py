"""Round state on disk, so a coordinator restart never sees a half-applied model.

Layout under ``<dir>``: ``theta-<round>.npy`` (θ after that round) and ``state.json``
(``last_round`` completed, its θ file, run settings, history). θ is written first,
then ``state.json`` is replaced atomically (write temp + ``os.replace``), so at any
instant the state names a complete θ. A round that was in flight when the process
died is simply run again from the last completed θ ("cleanly restart the round").
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np


class RoundStore:
    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_path = self.dir / "state.json"

    def load(self) -> tuple[dict[str, Any], np.ndarray] | None:
        """(state, θ) of the last completed round, or ``None`` for a fresh run."""
        if not self.state_path.exists():
            return None
        state = json.loads(self.state_path.read_text())
        theta = np.load(self.dir / state["theta_file"])
        return state, theta

    def save(self, round_idx: int, theta: np.ndarray, settings: dict[str, Any], history: list[dict]) -> None:
        theta_file = f"theta-{round_idx:06d}.npy"
        tmp = self.dir / (theta_file + ".tmp")
        with tmp.open("wb") as fh:
            np.save(fh, np.asarray(theta, np.float32))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.dir / theta_file)
        state = {"last_round": round_idx, "theta_file": theta_file, "settings": settings, "history": history}
        tmp_state = self.dir / "state.json.tmp"
        tmp_state.write_text(json.dumps(state, indent=1))
        os.replace(tmp_state, self.state_path)
        for old in self.dir.glob("theta-*.npy"):  # keep the current and the previous θ
            if old.name not in (theta_file, f"theta-{round_idx - 1:06d}.npy"):
                old.unlink(missing_ok=True)
