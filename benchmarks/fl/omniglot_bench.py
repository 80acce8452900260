"""Omniglot small splits, 5-way 5-shot on held-out characters (¼ of every alphabet), devices =
alphabets. A CNN feature extractor is pretrained once on the training characters (torch →
ONNX, frozen, run by ONNX Runtime); the strategies meta-learn the 64-64-5 head's start.

Goal (issue 5): ≥ 90% accuracy; TinyMetaFed ≥ 5× fewer bytes/round than FedAvg within 1 pp.
Run: .venv/bin/python benchmarks/fl/omniglot_bench.py [--scale 1.0]
"""
from __future__ import annotations

from common import RESULTS, run_strategies, write_results
from fewshot_goals import bench_args, classification_goals, strategy_configs

from cloud_sync.fl.pretrain import omniglot_backbone
from edge_runtime.online.backbone import load_backbone
from edge_runtime.online.experiments.fewshot import omniglot_experiment


def main() -> None:
    args, r = bench_args(__doc__)
    backbone = omniglot_backbone(RESULTS / "fl_cache", seed=args.seed)
    experiment = omniglot_experiment(load_backbone(backbone), eval_episodes=200)
    configs = strategy_configs(r(60), r(300), {"clients_per_round": 5, "local_steps": 10, "batch_size": 10,
                                               "lr": 0.05}, {"local_steps": 50, "lr": 0.02})
    results = run_strategies(experiment, configs, seed=args.seed, eval_points=5)
    results["backbone"] = {"file": str(backbone.relative_to(RESULTS.parent.parent)), "bytes": backbone.stat().st_size}
    results["goals"] = classification_goals(results, 0.90)
    print(results["goals"])
    print("wrote", write_results("omniglot", results, "accuracy"))


if __name__ == "__main__":
    main()
