"""Same-run comparison of starting points for on-device adaptation: random init, FedAvg,
centralised pre-training, Reptile, TinyReptile, TinyMetaFed — same data, same held-out
devices, same adaptation budget, several seeds, 95 % confidence intervals.

A *method* is ``{"strategy": name, "rounds": R, "objective": ..., **strategy options}``,
or ``{"centralised": steps, "batch_size": b, "lr": a}`` (pooled data, no federation),
or ``{"random": True}``; ``"experiment": {...}`` gives one method its own experiment options.
Every method of one seed starts from the same θ₀ and is scored
by ``experiment.evaluate`` on every requested shot count.
"""
from __future__ import annotations

from common import RESULTS  # first: puts the repo on sys.path and pins BLAS to one thread before numpy loads

import math  # noqa: E402
import time  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from cloud_sync.fl import make_strategy
from cloud_sync.fl.conditions import FleetConditions, SimulatedFleet
from cloud_sync.fl.fleet import InProcessFleet
from cloud_sync.fl.runner import run_federated, shared_mask_for
from edge_runtime.online.experiments.base import adapt
from edge_runtime.online.experiments.cnn import training_flops
from edge_runtime.online.fl_client import FederatedClient


def train_method(make_experiment: Callable[..., object], method: dict, seed: int,
                 conditions: FleetConditions | None = None) -> tuple[np.ndarray, dict]:
    """θ after the method's training and its costs (bytes, device steps, FLOPs, wall time)."""
    method = dict(method)
    conditions = method.pop("conditions", conditions)
    objective = method.pop("objective", "episodic")
    options = method.pop("experiment", {})  # this method's own data options (e.g. no rotations)
    experiment = make_experiment(**({"objective": objective} if objective != "episodic" else {}), **options)
    net = experiment.make_network(seed)
    started = time.perf_counter()
    if method.pop("random", False):
        return net.get_flat(), {"bytes_total": 0, "device_steps": 0, "device_flops": 0, "wall_s": 0.0}
    if "centralised" in method:
        steps, batch = int(method["centralised"]), int(method.get("batch_size", 10))
        adapt(net, net.get_flat(), experiment.pooled_data(), steps, float(method.get("lr", 0.1)), batch,
              np.random.default_rng([seed, 99]))
        return net.get_flat(), {"bytes_total": 0, "device_steps": 0, "device_flops": 0,
                                "server_steps": steps, "wall_s": time.perf_counter() - started}
    name, rounds = method.pop("strategy"), int(method.pop("rounds"))
    strategy = make_strategy(name, rounds=rounds, **method)
    strategy.adopt_experiment_defaults(experiment.local_params)
    handlers = {d: FederatedClient(experiment, d, seed).handle for d in experiment.device_ids()}
    fleet = SimulatedFleet(handlers, conditions, seed) if conditions else InProcessFleet(handlers, seed=seed)
    theta, history = run_federated(strategy, fleet, net.get_flat(), shared_mask_for(net, strategy), rounds,
                                   seed=seed, deadline_s=60.0)
    steps = int(sum(h["device_updates"] for h in history))
    cost = {"bytes_total": int(sum(h["bytes_down"] + h["bytes_up"] + h["bytes_lost"] + h["bytes_secagg"]
                                   for h in history)),
            "bytes_per_round": float(np.mean([h["bytes_down"] + h["bytes_up"] + h["bytes_lost"] + h["bytes_secagg"]
                                              for h in history])),
            "bytes_secagg_total": int(sum(h["bytes_secagg"] for h in history)),
            "client_updates": int(sum(len(h["answered"]) for h in history)),
            "rounds_with_no_update": int(sum(not h["answered"] for h in history)),
            "min_answered": int(min(len(h["answered"]) for h in history)),
            "device_steps": steps, "device_flops": training_flops(net, strategy.config.batch_size) * steps,
            "device_train_s_measured_here": float(sum(h["device_train_s"] for h in history)),
            "wall_s": time.perf_counter() - started}
    if conditions:
        cost["fleet"] = {**fleet.counts, "conditions": conditions.to_dict()}
    return theta, cost


def ci95(values: list[float]) -> dict:
    """Mean, 95 % t-interval half-width, worst (minimum) and the per-seed values."""
    v = np.asarray(values, float)
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
    return {"mean": float(v.mean()), "ci95": half, "worst": float(v.min()), "per_seed": v.tolist()}


def compare(make_experiment: Callable[..., Callable], methods: dict[str, dict], seeds: list[int],
            shots: list[int], conditions: FleetConditions | None = None, log=print,
            keep: Callable[[str, int, np.ndarray], None] | None = None, metric: str = "accuracy") -> dict:
    """``make_experiment(seed)`` → a factory ``(objective=...) -> experiment`` for that seed's split;
    ``keep(label, seed, θ)`` sees every trained model (to save one for export)."""
    per_method: dict[str, dict] = {m: {"accuracy": {k: [] for k in shots}, "costs": []} for m in methods}
    for seed in seeds:
        factory = make_experiment(seed)
        scorer = factory()
        for label, method in methods.items():
            theta, cost = train_method(factory, method, seed, conditions)
            if keep is not None:
                keep(label, seed, theta)
            accs = {k: scorer.evaluate(theta, seed, **({"k_shot": k} if k else {}))[metric] for k in shots}
            for k in shots:
                per_method[label]["accuracy"][k].append(accs[k])
            per_method[label]["costs"].append(cost)
            log(f"seed {seed} {label:12s} " + " ".join(f"{k}-shot={a:.3f}" for k, a in accs.items())
                + f" bytes={cost['bytes_total']:,} steps={cost['device_steps']} ({cost['wall_s']:.0f}s)")
    summary = {}
    for label, res in per_method.items():
        costs = res["costs"]
        summary[label] = {"method": {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in methods[label].items()},
                          "accuracy": {f"{k}-shot": ci95(v) for k, v in res["accuracy"].items()},
                          "bytes_total_mean": float(np.mean([c["bytes_total"] for c in costs])),
                          "device_steps_mean": float(np.mean([c["device_steps"] for c in costs])),
                          "device_flops_mean": float(np.mean([c["device_flops"] for c in costs])),
                          "costs_per_seed": costs}
    return summary


def margins(summary: dict, shots: int, against: list[str], candidates: list[str]) -> dict:
    """Per candidate: accuracy gain in pp over each baseline (mean over seeds, paired per-seed
    minimum) and its bytes as a share of FedAvg's."""
    key = f"{shots}-shot"
    out = {}
    for cand in candidates:
        c = np.asarray(summary[cand]["accuracy"][key]["per_seed"])
        row = {}
        for base in against:
            b = np.asarray(summary[base]["accuracy"][key]["per_seed"])
            row[f"gain_pp_vs_{base}"] = float(100 * (c - b).mean())
            row[f"worst_seed_gain_pp_vs_{base}"] = float(100 * (c - b).min())
        if "fedavg" in summary and summary["fedavg"]["bytes_total_mean"]:
            row["bytes_share_of_fedavg"] = summary[cand]["bytes_total_mean"] / summary["fedavg"]["bytes_total_mean"]
        out[cand] = row
    return out


def bench_args(doc: str, default_out: str, extra: Callable | None = None):
    """The command line every comparison benchmark shares; ``extra(parser)`` adds a bench's own options."""
    import argparse

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5, help="report seeds 0..N-1 (each its own held-out split)")
    ap.add_argument("--seed-list", help="only these seeds, e.g. 0,1 (parallel parts; merge_results.py joins them)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every round count (0.1 = smoke run)")
    ap.add_argument("--episodes", type=int, default=50, help="evaluation episodes per seed and shot count")
    ap.add_argument("--split-offset", type=int, default=0, help="first split (7 = the tuning split)")
    ap.add_argument("--out", default=default_out, help="results name under benchmarks/results/")
    ap.add_argument("--methods", help="only these methods, e.g. tinymetafed (a supplementary arm; with --scale)")
    if extra is not None:
        extra(ap)
    args = ap.parse_args()
    args.seed_values = [int(s) for s in args.seed_list.split(",")] if args.seed_list else list(range(args.seeds))
    args.method_names = args.methods.split(",") if args.methods else None
    return args


def chosen_methods(all_methods: dict[str, dict], names: list[str] | None) -> dict[str, dict]:
    """The ``--methods`` subset (all when none named); unknown names are an error, not a silent skip."""
    if not names:
        return all_methods
    unknown = sorted(set(names) - set(all_methods))
    if unknown:
        raise SystemExit(f"unknown methods {unknown}; known: {sorted(all_methods)}")
    return {name: all_methods[name] for name in names}


def write_report(args, summary: dict, experiment: dict, shots: list[int], title: str) -> dict:
    """JSON (methods, margins over random init and FedAvg) and the accuracy-vs-bytes plot."""
    import json

    from meta_plots import plot_accuracy_vs_bytes

    result = {"experiment": experiment, "seeds": args.seed_values, "split_offset": args.split_offset,
              "scale": args.scale, "shots": shots, "title": title, "methods": summary}
    return finish_report(result, RESULTS / f"{args.out}.json")


def finish_report(result: dict, path) -> dict:
    """Add the margins table, write the JSON and the plot (also used after merging parts)."""
    import json

    from meta_plots import plot_accuracy_vs_bytes

    summary, shots = result["methods"], result["shots"]
    named = ("reptile", "tinyreptile", "tinymetafed", "fedavg_episodic", "centralised")
    candidates = [m for m in summary if m in named or m.startswith(("tinyreptile_", "tinymetafed_"))]
    against = [m for m in ("random_init", "fedavg", "fedavg_long") if m in summary]
    result["margins"] = {f"{k}-shot": margins(summary, k, against, candidates) for k in shots}
    path.write_text(json.dumps(result, indent=1))
    plot_accuracy_vs_bytes(summary, f"{shots[0]}-shot", path.with_suffix(".png"), result["title"])
    print(json.dumps(result["margins"], indent=1))
    print("wrote", path)
    return result


def merge_parts(parts: list[dict]) -> dict:
    """One report from runs of the same methods on disjoint seeds."""
    merged = {**parts[0], "seeds": [s for p in parts for s in p["seeds"]], "methods": {}}
    for label, first in parts[0]["methods"].items():
        rows = [p["methods"][label] for p in parts]
        costs = [c for r in rows for c in r["costs_per_seed"]]
        merged["methods"][label] = {
            "method": first["method"],
            "accuracy": {k: ci95([v for r in rows for v in r["accuracy"][k]["per_seed"]]) for k in first["accuracy"]},
            "bytes_total_mean": float(np.mean([c["bytes_total"] for c in costs])),
            "device_steps_mean": float(np.mean([c["device_steps"] for c in costs])),
            "device_flops_mean": float(np.mean([c["device_flops"] for c in costs])),
            "costs_per_seed": costs}
    return merged
