"""FSDD keyword audio: speaker = device, one speaker held out (george by default). Front end:
fixed-length MFCC (numpy/scipy); head 208-64-10. Evaluation: the held-out speaker adapts on
10 takes per digit (200 SGD steps, lr 0.1), then is tested on its other 400 takes.

Goal (issue 5): ≥ 90% after adaptation; bytes per round per strategy.
Run: .venv/bin/python benchmarks/fl/fsdd_bench.py [--scale 1.0] [--held-out george]
"""
from __future__ import annotations

import argparse

from common import run_strategies, write_results
from fewshot_goals import classification_goals

from edge_runtime.online.experiments.classification import KeywordAudio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--held-out", default="george")
    args = ap.parse_args()
    r = lambda n: max(2, int(n * args.scale))  # noqa: E731
    experiment = KeywordAudio(held_out=args.held_out)
    batched = {"clients_per_round": 5, "local_steps": 20, "batch_size": 10, "lr": 0.05}
    serial = {"local_steps": 64, "lr": 0.01}
    configs = {
        "fedavg": {"strategy": "fedavg", "rounds": r(40), **batched},
        "reptile": {"strategy": "reptile", "rounds": r(40), **batched},
        "tinyreptile": {"strategy": "tinyreptile", "rounds": r(200), **serial},
        "tinymetafed": {"strategy": "tinymetafed", "rounds": r(200), **serial},
    }
    results = run_strategies(experiment, configs, seed=args.seed, eval_points=5)
    results["goals"] = classification_goals(results, 0.90, "accuracy_before_adaptation")
    print(results["goals"])
    print("wrote", write_results("fsdd", results, "accuracy"))


if __name__ == "__main__":
    main()
