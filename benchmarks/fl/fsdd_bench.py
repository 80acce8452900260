"""FSDD keyword audio: speaker = device, one speaker held out (george by default). Front end:
fixed-length MFCC (numpy/scipy); head 208-64-10. Evaluation: the held-out speaker adapts on
10 takes per digit (200 SGD steps, lr 0.1), then is tested on its other 400 takes.

Goal (issue 5): ≥ 90% after adaptation; bytes per round per strategy.
Run: .venv/bin/python benchmarks/fl/fsdd_bench.py [--scale 1.0] [--held-out george]
"""
from __future__ import annotations

import json

from common import RESULTS, run_strategies, write_results
from fewshot_goals import bench_args, classification_goals, strategy_configs

from edge_runtime.online.experiments.classification import KeywordAudio


SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def main() -> None:
    args, r = bench_args(__doc__ + "\n--held-out all: leave each speaker out in turn (fl_fsdd_loso.json).")
    configs = strategy_configs(r(40), r(200), {"clients_per_round": 5, "local_steps": 20, "batch_size": 10,
                                               "lr": 0.05}, {"local_steps": 64, "lr": 0.01})
    if args.held_out == "all":
        leave_each_speaker_out(configs, args.seed)
        return
    results = run_strategies(KeywordAudio(held_out=args.held_out), configs, seed=args.seed, eval_points=5)
    results["goals"] = classification_goals(results, 0.90, "accuracy_before_adaptation")
    print(results["goals"])
    print("wrote", write_results("fsdd", results, "accuracy"))


def leave_each_speaker_out(configs: dict, seed: int) -> None:
    """Every speaker held out once; accuracy after adaptation per speaker and strategy (+ random θ₀)."""
    table: dict[str, dict[str, float]] = {}
    for speaker in SPEAKERS:
        results = run_strategies(KeywordAudio(held_out=speaker), configs, seed=seed, eval_points=1)
        table[speaker] = {"initial": results["initial"]["accuracy"],
                          **{k: v["final"]["accuracy"] for k, v in results["strategies"].items()}}
    means = {k: sum(row[k] for row in table.values()) / len(table) for k in next(iter(table.values()))}
    out = {"per_speaker": table, "mean": means, "worst": {k: min(row[k] for row in table.values()) for k in means}}
    print(json.dumps(out, indent=1))
    (RESULTS / "fl_fsdd_loso.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
