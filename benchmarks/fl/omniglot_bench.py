"""Omniglot small splits, 5-way 5-shot on held-out characters (¼ of every alphabet), devices =
alphabets. A CNN feature extractor is pretrained once on the training characters (torch →
ONNX, frozen, run by ONNX Runtime); the strategies meta-learn the 64-64-5 head's start.

Goal (issue 5): ≥ 90% accuracy; TinyMetaFed ≥ 5× fewer bytes/round than FedAvg within 1 pp.
Run: .venv/bin/python benchmarks/fl/omniglot_bench.py [--scale 1.0]
"""
from __future__ import annotations

import argparse

from common import RESULTS, run_strategies, write_results
from fewshot_goals import classification_goals

from cloud_sync.fl.pretrain import omniglot_backbone
from edge_runtime.online.backbone import load_backbone
from edge_runtime.online.experiments.fewshot import omniglot_experiment


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    r = lambda n: max(2, int(n * args.scale))  # noqa: E731
    backbone = omniglot_backbone(RESULTS / "fl_cache", seed=args.seed)
    experiment = omniglot_experiment(load_backbone(backbone), eval_episodes=200)
    batched = {"clients_per_round": 5, "local_steps": 10, "batch_size": 10, "lr": 0.05}
    serial = {"local_steps": 50, "lr": 0.02}
    configs = {
        "fedavg": {"strategy": "fedavg", "rounds": r(60), **batched},
        "reptile": {"strategy": "reptile", "rounds": r(60), **batched},
        "tinyreptile": {"strategy": "tinyreptile", "rounds": r(300), **serial},
        "tinymetafed": {"strategy": "tinymetafed", "rounds": r(300), **serial},
    }
    results = run_strategies(experiment, configs, seed=args.seed, eval_points=5)
    results["backbone"] = {"file": str(backbone.relative_to(RESULTS.parent.parent)), "bytes": backbone.stat().st_size}
    results["goals"] = classification_goals(results, 0.90)
    print(results["goals"])
    print("wrote", write_results("omniglot", results, "accuracy"))


if __name__ == "__main__":
    main()
