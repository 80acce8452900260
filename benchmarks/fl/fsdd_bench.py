"""FSDD keyword audio: speaker = device, one speaker held out (george by default). Front end:
fixed-length MFCC (numpy/scipy); head 208-64-10. Evaluation: the held-out speaker adapts on
10 takes per digit (200 SGD steps, lr 0.1), then is tested on its other 400 takes.

Goal (issue 5): ≥ 90% after adaptation; bytes per round per strategy.
Run: .venv/bin/python benchmarks/fl/fsdd_bench.py [--scale 1.0] [--held-out george]
"""
from __future__ import annotations

from common import run_strategies, write_results
from fewshot_goals import bench_args, classification_goals, strategy_configs

from edge_runtime.online.experiments.classification import KeywordAudio


def main() -> None:
    args, r = bench_args(__doc__)
    experiment = KeywordAudio(held_out=args.held_out)
    configs = strategy_configs(r(40), r(200), {"clients_per_round": 5, "local_steps": 20, "batch_size": 10,
                                               "lr": 0.05}, {"local_steps": 64, "lr": 0.01})
    results = run_strategies(experiment, configs, seed=args.seed, eval_points=5)
    results["goals"] = classification_goals(results, 0.90, "accuracy_before_adaptation")
    print(results["goals"])
    print("wrote", write_results("fsdd", results, "accuracy"))


if __name__ == "__main__":
    main()
