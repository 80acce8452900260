"""Top-view picture of a tracked scene: sensor footprints and global trajectories."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_runtime.lidar.sensors import SensorSpec


def plot_top_view(frames: list[dict], sensors: list[SensorSpec], out: str | Path,
                  title: str = "global trajectories") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths: dict[int, list[tuple[float, float]]] = {}
    for frame in frames:
        for track in frame["tracks"]:
            paths.setdefault(track["id"], []).append((track["x"], track["y"]))
    figure, axis = plt.subplots(figsize=(12, 4.5))
    for sensor in sensors:
        axis.add_patch(plt.Circle((sensor.x, sensor.y), sensor.max_range_m, color="0.85", zorder=0))
        axis.plot(sensor.x, sensor.y, "k^", markersize=9)
        axis.annotate(sensor.sensor_id, (sensor.x, sensor.y), textcoords="offset points", xytext=(6, 6))
    colours = plt.get_cmap("tab20")
    for i, (gid, points) in enumerate(sorted(paths.items())):
        xy = np.asarray(points)
        axis.plot(xy[:, 0], xy[:, 1], ".", markersize=2, color=colours(i % 20))
        axis.annotate(str(gid), xy[0], fontsize=7, color=colours(i % 20))
    axis.set_aspect("equal")
    axis.set_xlabel("x (m, world)")
    axis.set_ylabel("y (m, world)")
    axis.set_title(f"{title}: {len(paths)} ids; grey = sensor footprints")
    figure.tight_layout()
    out = Path(out)
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out
