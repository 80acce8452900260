"""Waterfall picture: the quasi-static envelope with detected lines, ids and classes."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edge_runtime.das.lines import normalise_columns
from edge_runtime.das.params import DetectionParams
from edge_runtime.das.preprocess import EnvelopeStream
from edge_runtime.das.record import DasRecord


def plot_detections(record: DasRecord, events: Sequence[dict[str, Any]], out: str | Path,
                    params: DetectionParams | None = None,
                    truth: Sequence[dict[str, Any]] | None = None) -> Path:
    """Write a PNG: distance (x) vs time (y, downward), SNR envelope, one line per vehicle."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    params = params or DetectionParams()
    front = EnvelopeStream(record.fs, record.dx, record.n_channels, params)
    z, _ = normalise_columns(front.push(record.data)[:, 0, :])
    length = (record.n_channels - 1) * record.dx
    fig, ax = plt.subplots(figsize=(9, max(5.0, min(16.0, record.duration_s / 12.0))))
    ax.imshow(np.sqrt(z), aspect="auto", cmap="magma", vmax=4,
              extent=[0, length, record.duration_s, 0], interpolation="nearest")
    xs = np.array([0.0, length])
    for event in events:
        ts = event["t_center_s"] + 3.6 / event["speed_kmh"] * (xs - length / 2)
        color = "cyan" if event["class"] == "car" else "lime"
        ax.plot(xs, ts, color=color, lw=0.8)
        ax.text(length / 2, event["t_center_s"], f" {event['id']} {event['class']} {abs(event['speed_kmh']):.0f}",
                color=color, fontsize=7, va="center")
    for vehicle in truth or []:
        ts = vehicle["t_center_s"] + 3.6 / vehicle["speed_kmh"] * (xs - length / 2)
        ax.plot(xs, ts, color="white", lw=0.5, ls=":")
    ax.set_ylim(record.duration_s, 0)
    ax.set_xlabel("distance along fibre (m)")
    ax.set_ylabel("time (s)")
    ax.set_title(f"{Path(record.source).name or 'DAS'}: {len(events)} vehicles "
                 f"(cyan car, green truck{', dotted truth' if truth else ''})")
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
