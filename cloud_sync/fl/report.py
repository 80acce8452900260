"""Learning-curve pictures and per-round summaries shared by the CLI and the benchmarks."""
from __future__ import annotations

from pathlib import Path


def plot_learning_curves(curves: dict[str, list[dict]], metric: str, path: str | Path, title: str,
                         x_key: str = "client_updates") -> Path:
    """One line per strategy: ``metric`` (after adaptation) against ``x_key``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, points in curves.items():
        ax.plot([p[x_key] for p in points], [p[metric] for p in points], marker="o", ms=3, label=label)
    ax.set_xlabel(x_key.replace("_", " "))
    ax.set_ylabel(f"{metric} after adaptation")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def curve_points(history: list[dict]) -> list[dict]:
    """Evaluated rounds of a run history as plot/JSON points with cumulative update counts."""
    points, client_updates = [], 0
    for record in history:
        client_updates += len(record["answered"])
        if "eval" in record:
            points.append({"round": record["round"], "client_updates": client_updates,
                           "local_steps": record["device_updates_total"], **record["eval"]})
    return points
