"""Pictures of a plan: sub-model sizes and FLOPs against the full ViT (``split --plot``)."""
from __future__ import annotations

from pathlib import Path


def plot_sizes(manifest: dict, out: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    full = manifest["full"]
    subs = manifest["submodels"]
    labels = ["full"] + [f"sub {s['index']}\n{s['classes']}" for s in subs]
    fig, axes = plt.subplots(1, 2, figsize=(3 + 1.1 * len(labels), 3.6))
    for ax, key, title in ((axes[0], "params", "parameters"), (axes[1], "flops", "FLOPs / image")):
        values = [full[key]] + [s[key] for s in subs]
        bars = ax.bar(range(len(values)), values, color=["#555"] + ["#3a7"] * len(subs))
        ax.set_xticks(range(len(values)), labels, fontsize=7)
        ax.set_title(title)
        for bar, value in zip(bars[1:], values[1:]):
            ax.annotate(f"{full[key] / value:.1f}x", (bar.get_x() + bar.get_width() / 2, value),
                        ha="center", va="bottom", fontsize=7)
    fig.suptitle(f"ED-ViT on {manifest['dataset']}: fused accuracy {manifest['fusion']['accuracy']:.3f} "
                 f"vs full {full['accuracy']:.3f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return Path(out)
