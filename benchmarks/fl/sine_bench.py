"""Sine few-shot regression: every strategy side by side; MSE after 10 shots / 32 steps.

Goal (issue 5): TinyReptile MSE ≤ 0.45 with fewer device updates than FedAvg.
Run: .venv/bin/python benchmarks/fl/sine_bench.py [--scale 1.0]
"""
from __future__ import annotations

import argparse

from common import run_strategies, write_results

from edge_runtime.online.experiments.sine import SineExperiment


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every round count (0.1 for a smoke run)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    r = lambda n: max(2, int(n * args.scale))  # noqa: E731
    experiment = SineExperiment(n_devices=1000, samples_per_round=32, n_eval_tasks=100, seed=args.seed)
    serial = {"local_steps": 32, "lr": 0.01, "beta": 1.0, "beta_final": 0.0}  # batch 1: lr 0.02 diverges
    batched = {"clients_per_round": 5, "local_steps": 5, "batch_size": 10, "lr": 0.02}
    configs = {
        "fedavg": {"strategy": "fedavg", "rounds": r(3000), **batched},
        "reptile": {"strategy": "reptile", "rounds": r(3000), **batched, "beta": 1.0, "beta_final": 0.0},
        "tinyreptile": {"strategy": "tinyreptile", "rounds": r(3000), **serial},
        "tinymetafed": {"strategy": "tinymetafed", "rounds": r(3000), **serial},
    }
    results = run_strategies(experiment, configs, seed=args.seed)
    tiny, fedavg = results["strategies"]["tinyreptile"], results["strategies"]["fedavg"]
    results["goals"] = {
        "tinyreptile_mse": tiny["final"]["mse"], "tinyreptile_mse_le_0.45": tiny["final"]["mse"] <= 0.45,
        "tinyreptile_client_updates": tiny["client_updates"], "fedavg_client_updates": fedavg["client_updates"],
        "fewer_updates_than_fedavg": tiny["client_updates"] < fedavg["client_updates"]}
    print(results["goals"])
    print("wrote", write_results("sine", results, "mse"))


if __name__ == "__main__":
    main()
