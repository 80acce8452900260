"""The one in-memory form every DAS reader returns and every pipeline step accepts.

Readers differ (OptoDAS, PRODML, npy/npz), the detection code must not: whatever the
file, a recording becomes a ``DasRecord`` holding a float32 ``time x channel`` array and
the few numbers needed to turn indices into seconds and metres.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class DasRecord:
    """A DAS recording: ``data[time, channel]`` sampled at ``fs`` Hz, channels ``dx`` m apart.

    ``t0`` is the absolute start time (POSIX seconds, UTC) or ``None`` when the file has
    no trustworthy clock; ``x0`` is the distance of channel 0 along the fibre (m).
    """

    data: np.ndarray
    fs: float
    dx: float
    t0: float | None = None
    x0: float = 0.0
    units: str = "strain/s"
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data = np.asarray(self.data)
        if self.data.ndim != 2:
            raise ValueError(f"DAS data must be 2-D (time x channel); got shape {self.data.shape}"
                             f"{' from ' + self.source if self.source else ''}")
        if not self.data.dtype == np.float32:
            self.data = self.data.astype(np.float32)
        if not (np.isfinite(self.fs) and self.fs > 0):
            raise ValueError(f"sampling rate fs must be > 0 Hz; got {self.fs!r}")
        if not (np.isfinite(self.dx) and self.dx > 0):
            raise ValueError(f"channel spacing dx must be > 0 m; got {self.dx!r}")
        self.fs = float(self.fs)
        self.dx = float(self.dx)

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.data.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    @property
    def length_m(self) -> float:
        return self.n_channels * self.dx

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary (no data) for logs and ``--json`` output."""
        return {"source": self.source, "samples": self.n_samples, "channels": self.n_channels,
                "fs_hz": self.fs, "dx_m": self.dx, "t0": self.t0, "x0_m": self.x0,
                "duration_s": round(self.duration_s, 3), "units": self.units}
