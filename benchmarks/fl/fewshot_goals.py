"""What the classification benchmarks share: their command line, the four strategy configs
(batched pair and serial pair), and the goal checks (accuracy goal, bytes vs FedAvg)."""
from __future__ import annotations

import argparse


def bench_args(doc: str) -> tuple[argparse.Namespace, callable]:
    """``--scale`` / ``--seed`` (+ ``--held-out``); returns (args, round-count scaler)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every round count (0.05 = smoke run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--held-out", default="george", help="FSDD only: the speaker held out")
    args = ap.parse_args()
    return args, (lambda n: max(2, int(n * args.scale)))


def strategy_configs(batched_rounds: int, serial_rounds: int, batched: dict, serial: dict) -> dict:
    """FedAvg and Reptile with ``batched`` options; TinyReptile and TinyMetaFed with ``serial``."""
    return {"fedavg": {"strategy": "fedavg", "rounds": batched_rounds, **batched},
            "reptile": {"strategy": "reptile", "rounds": batched_rounds, **batched},
            "tinyreptile": {"strategy": "tinyreptile", "rounds": serial_rounds, **serial},
            "tinymetafed": {"strategy": "tinymetafed", "rounds": serial_rounds, **serial}}


def classification_goals(results: dict, accuracy_goal: float, reference_key: str | None = None) -> dict:
    """Per-strategy accuracy vs the goal; TinyMetaFed bytes/round vs FedAvg's and the accuracy gap."""
    s = results["strategies"]
    acc = {k: v["final"]["accuracy"] for k, v in s.items()}
    goals = {"accuracy": acc, "accuracy_goal": accuracy_goal,
             "meets_accuracy_goal": {k: a >= accuracy_goal for k, a in acc.items()},
             "initial_accuracy": results["initial"]["accuracy"]}
    if "fedavg" in s and "tinymetafed" in s:
        ratio = s["fedavg"]["bytes_per_round"] / s["tinymetafed"]["bytes_per_round"]
        gap_pp = 100 * (acc["fedavg"] - acc["tinymetafed"])
        goals.update({"fedavg_over_tinymetafed_bytes_per_round": ratio,
                      "fedavg_over_tinymetafed_bytes_total": s["fedavg"]["bytes_total"] / s["tinymetafed"]["bytes_total"],
                      "tinymetafed_accuracy_gap_pp": gap_pp,
                      "tinymetafed_5x_fewer_bytes_within_1pp": ratio >= 5 and gap_pp <= 1.0})
    if reference_key:
        goals[reference_key] = {k: v["final"].get(reference_key) for k, v in s.items()}
    return goals
