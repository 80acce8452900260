"""Goal checks shared by the classification benchmarks (accuracy goal, bytes vs FedAvg)."""
from __future__ import annotations


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
