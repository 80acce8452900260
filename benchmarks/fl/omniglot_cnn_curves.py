"""Tuning-split learning curves for the Omniglot CNN: one method, one long run, accuracy after
the standard on-device adaptation at chosen rounds (and, at the last one, a small grid of other
adaptation budgets) — how the settings of ``omniglot_cnn_bench.py`` were chosen.

Only the tuning split (7: Japanese + Tagalog held out) is meant to be used here; the report
splits 0..4 are for ``omniglot_cnn_bench.py``. Every row is appended to a JSONL file so runs
in parallel processes collect into one place (``fl_tuning_omniglot_cnn_curves.jsonl``).

Example (TinyReptile, 20-way device tasks, rotations, curve at 250/500/1000 rounds)::

    nice -n 5 .venv/bin/python benchmarks/fl/omniglot_cnn_curves.py trep_w20 \\
        '{"strategy": "tinyreptile", "local_steps": 100, "batch_size": 1, "lr": 0.03}' 250,500,1000 \\
        --experiment '{"rotations": 4, "train_way": 20}' --grid
"""
from __future__ import annotations

from common import RESULTS  # first: it pins BLAS to one thread before numpy loads

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from cloud_sync.fl import make_strategy  # noqa: E402
from cloud_sync.fl.fleet import InProcessFleet  # noqa: E402
from cloud_sync.fl.runner import run_federated, shared_mask_for  # noqa: E402
from edge_runtime.online.experiments.cnn import OmniglotCnn  # noqa: E402
from edge_runtime.online.fl_client import FederatedClient  # noqa: E402

# (adaptation steps, lr) scored besides the standard budget at the last round; 0 steps = the
# prototype head alone
ADAPTATION_GRID = [(0, 0.1), (20, 0.03), (20, 0.3), (50, 0.1)]


def plot_curves(jsonl: Path, path: Path) -> Path:
    """Accuracy after adaptation against bytes moved, one line per run of the JSONL."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs: dict[str, list[dict]] = {}
    for line in jsonl.read_text().splitlines():
        row = json.loads(line)
        runs.setdefault(row["name"], []).append(row)
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    for name, rows in sorted(runs.items()):
        rows.sort(key=lambda r: r["round"])
        ax.plot([r["bytes"] for r in rows], [r["acc5"] for r in rows], "o-", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("bytes moved in training (log)")
    ax.set_ylabel("5-way 5-shot accuracy after adaptation")
    ax.set_title("Omniglot CNN, tuning split 7 (Japanese + Tagalog held out), 1 seed")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    if sys.argv[1:2] == ["--plot"]:  # only redraw the picture of the collected runs
        default = RESULTS / "fl_tuning_omniglot_cnn_curves.jsonl"
        jsonl = Path(sys.argv[2]) if len(sys.argv) > 2 else default
        print("wrote", plot_curves(jsonl, jsonl.with_suffix(".png")))
        return
    ap.add_argument("name", help="label of this run in the JSONL (or --plot [JSONL]: redraw the picture)")
    ap.add_argument("method", help='strategy options as JSON, e.g. {"strategy": "fedavg", "objective": "supervised"}')
    ap.add_argument("rounds", help="comma-separated rounds to score at; the last is the run's length (β schedule)")
    ap.add_argument("--experiment", default="{}", help="OmniglotCnn options as JSON (rotations, train_way, ...)")
    ap.add_argument("--split", type=int, default=7, help="held-out alphabet split (7 = tuning)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--grid", action="store_true", help="score the adaptation grid at the last round")
    ap.add_argument("--out", default=str(RESULTS / "fl_tuning_omniglot_cnn_curves.jsonl"))
    args = ap.parse_args()
    method, points = json.loads(args.method), sorted(int(r) for r in args.rounds.split(","))
    options = {"samples_per_class": 5, "head_init": "prototypes", **json.loads(args.experiment)}
    objective = method.pop("objective", "episodic")
    experiment = OmniglotCnn(split=args.split, objective=objective, eval_episodes=args.episodes, **options)
    scorer = OmniglotCnn(split=args.split, eval_episodes=args.episodes, **options)
    net = experiment.make_network(args.seed)
    strategy = make_strategy(method.pop("strategy"), rounds=points[-1], **method)
    strategy.adopt_experiment_defaults(experiment.local_params)
    fleet = InProcessFleet({d: FederatedClient(experiment, d, args.seed).handle for d in experiment.device_ids()},
                           seed=args.seed)
    started, state = time.perf_counter(), {"round": 0, "bytes": 0}

    def count(record: dict) -> None:
        state["bytes"] += record["bytes_down"] + record["bytes_up"]

    def score(theta: np.ndarray) -> dict:
        state["round"] += 1
        if state["round"] not in points:
            return {}
        row = {"name": args.name, "method": args.method, "experiment": options, "split": args.split,
               "round": state["round"], "bytes": state["bytes"], "wall_s": time.perf_counter() - started,
               "acc5": scorer.evaluate(theta, args.seed)["accuracy"]}
        if args.grid and state["round"] == points[-1]:
            for steps, lr in ADAPTATION_GRID:
                scorer.adapt_steps, scorer.adapt_lr = steps, lr
                row[f"acc5_steps{steps}_lr{lr}"] = scorer.evaluate(theta, args.seed)["accuracy"]
        print(json.dumps(row), flush=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")
        return row

    run_federated(strategy, fleet, net.get_flat(), shared_mask_for(net, strategy), points[-1], seed=args.seed,
                  evaluate=score, eval_every=1, on_round=count)


if __name__ == "__main__":
    main()
