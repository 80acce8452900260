"""What fleet realism and privacy cost, measured on one task in the same run: sine few-shot
regression (100 devices, FedAvg 10 per round, TinyMetaFed 1 per round), 5 seeds.

Configurations: an ideal fleet; 30 % of the selected devices vanishing mid-round; that plus
20 % stragglers (8× slower) against the round deadline and 25 % of devices joining at round
30; secure aggregation (pairwise masking) under the same 30 % dropouts; client-side DP
(clip C, Gaussian noise) — without secure aggregation every device must add the full noise
σ·C, with it the noise is split (σ·C/√m each) and only the sum carries σ·C; ε from the RDP
accountant (q = 10/100, δ = 1e-5; with dropouts, σ is taken at the fewest survivors of any
round, which is what the sum really carried). Metric: MSE after the standard adaptation
(10 shots, 32 SGD steps; a typical device needs 8 s per round, a straggler over the 60 s deadline), bytes over the whole run including the masking protocol's.
Writes benchmarks/results/fl_fleet_privacy.json (+ .png).
Run: nice -n 5 .venv/bin/python benchmarks/fl/fleet_privacy_bench.py [--seeds 5] [--rounds 100]
"""
from __future__ import annotations

import argparse
import json
import math

from common import RESULTS
from meta_harness import compare

from cloud_sync.fl.accountant import epsilon
from cloud_sync.fl.conditions import FleetConditions
from edge_runtime.online.experiments.sine import SineExperiment

DEVICES, PER_ROUND, CLIP, DELTA = 100, 10, 1.0, 1e-5


def configs(rounds: int, sigma: float) -> dict[str, dict]:
    drop = FleetConditions(dropout=0.3)
    harsh = FleetConditions(dropout=0.3, straggler_share=0.2, slowdown=8.0, step_s=0.25, late_share=0.25,
                            join_round=30)
    fedavg = {"strategy": "fedavg", "rounds": rounds, "clients_per_round": PER_ROUND, "local_steps": 32,
              "batch_size": 10, "lr": 0.02}
    tmf = {"strategy": "tinymetafed", "rounds": rounds * PER_ROUND, "local_steps": 32, "lr": 0.01}
    dp = {"dp_clip": CLIP}
    return {"fedavg_ideal": fedavg,
            "fedavg_dropout30": {**fedavg, "conditions": drop},
            "fedavg_dropout_stragglers_late": {**fedavg, "conditions": harsh},
            "fedavg_secagg_dropout30": {**fedavg, "conditions": drop, "secure_aggregation": True},
            "fedavg_dp_local": {**fedavg, **dp, "dp_noise": sigma, "conditions": drop},
            "fedavg_dp_secagg": {**fedavg, **dp, "dp_noise": sigma / math.sqrt(PER_ROUND), "conditions": drop,
                                 "secure_aggregation": True},
            "tinymetafed_ideal": tmf,
            "tinymetafed_dropout30": {**tmf, "conditions": drop}}


def privacy_budget(summary: dict, rounds: int, sigma: float) -> dict:
    """ε of the DP configurations (device-level, add/remove one device's data)."""
    q = PER_ROUND / DEVICES
    out = {"local": {"sigma_per_update": sigma, "epsilon": epsilon(q, sigma, rounds, DELTA)[0]}}
    m = max(1, min(c["min_answered"] for c in summary["fedavg_dp_secagg"]["costs_per_seed"]))
    sigma_sum = sigma / math.sqrt(PER_ROUND) * math.sqrt(m)
    out["secagg"] = {"sigma_of_sum_planned": sigma, "fewest_survivors": m, "sigma_of_sum_worst_round": sigma_sum,
                     "epsilon": epsilon(q, sigma_sum, rounds, DELTA)[0]}
    out["delta"], out["q"], out["rounds"], out["clip"] = DELTA, q, rounds, CLIP
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--sigma", type=float, default=1.0, help="DP noise multiplier of the sum")
    args = ap.parse_args()

    def make(seed: int):
        return lambda objective="episodic": SineExperiment(n_devices=DEVICES, samples_per_round=10, n_eval_tasks=50,
                                                           seed=seed)

    summary = compare(make, configs(args.rounds, args.sigma), list(range(args.seeds)), shots=[None], metric="mse")
    result = {"task": "sine, 100 devices", "metric": "mse (lower is better)", "seeds": list(range(args.seeds)),
              "methods": summary, "privacy": privacy_budget(summary, args.rounds, args.sigma)}
    ideal = summary["fedavg_ideal"]
    result["relative_to_fedavg_ideal"] = {
        k: {"mse_ratio": v["accuracy"]["None-shot"]["mean"] / ideal["accuracy"]["None-shot"]["mean"],
            "bytes_ratio": v["bytes_total_mean"] / ideal["bytes_total_mean"]} for k, v in summary.items()}
    path = RESULTS / "fl_fleet_privacy.json"
    path.write_text(json.dumps(result, indent=1))
    from meta_plots import plot_accuracy_vs_bytes

    plot_accuracy_vs_bytes(summary, "None-shot", path.with_suffix(".png"), "sine: fleet conditions and privacy",
                           ylabel="MSE after adaptation (lower is better)")
    print(json.dumps({"privacy": result["privacy"], "relative": result["relative_to_fedavg_ideal"]}, indent=1))


if __name__ == "__main__":
    main()
