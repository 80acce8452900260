"""Pictures of the same-run comparisons: accuracy after adaptation (mean ± 95 % CI over seeds)
against the bytes each method moved, one point per method."""
from __future__ import annotations

from pathlib import Path


def plot_accuracy_vs_bytes(summary: dict, shots_key: str, path: Path, title: str, ylabel: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, res in summary.items():
        acc = res["accuracy"][shots_key]
        x = max(res["bytes_total_mean"], 1e3)  # methods that move nothing sit at the left edge
        ax.errorbar([x], [acc["mean"]], yerr=[acc["ci95"]], fmt="o", capsize=4, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("bytes moved in training (log; no-FL methods at 1 kB)")
    ax.set_ylabel(ylabel or f"accuracy after adaptation ({shots_key})")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
