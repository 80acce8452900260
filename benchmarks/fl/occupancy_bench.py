"""UCI occupancy: the first week's days are the devices; each strategy's θ is deployed on the
later week twice — static, and with batch-1 online updates (prequential accuracy).

Goal (issue 5): ≥ 97% on the later week and above the static model.
Run: .venv/bin/python benchmarks/fl/occupancy_bench.py [--scale 1.0]
"""
from __future__ import annotations

from common import run_strategies, write_results
from fewshot_goals import bench_args, classification_goals, strategy_configs

from edge_runtime.online.experiments.classification import Presence


def main() -> None:
    args, r = bench_args(__doc__)
    experiment = Presence()
    configs = strategy_configs(r(40), r(200), {"clients_per_round": 5, "local_steps": 20, "batch_size": 10,
                                               "lr": 0.05}, {"local_steps": 64, "lr": 0.01})
    results = run_strategies(experiment, configs, seed=args.seed, eval_points=4)
    goals = classification_goals(results, 0.97, "static_accuracy")
    goals["online_above_static"] = {k: v["final"]["accuracy"] > v["final"]["static_accuracy"]
                                    for k, v in results["strategies"].items()}
    results["goals"] = goals
    print(goals)
    print("wrote", write_results("occupancy", results, "accuracy"))


if __name__ == "__main__":
    main()
