"""Shared harness of the FL benchmarks: every strategy on the same experiment, data and seeds,
in-process; writes ``benchmarks/results/fl_<exp>.json`` and a learning-curve PNG."""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    # small matmuls on a shared 2-core box: a second BLAS thread made a CNN step 9x slower
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cloud_sync.fl import make_strategy  # noqa: E402
from cloud_sync.fl.fleet import InProcessFleet  # noqa: E402
from cloud_sync.fl.report import curve_points, plot_learning_curves  # noqa: E402
from cloud_sync.fl.runner import run_federated, shared_mask_for  # noqa: E402
from edge_runtime.online.experiments.base import Experiment  # noqa: E402
from edge_runtime.online.fl_client import FederatedClient  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def run_strategies(experiment: Experiment, configs: dict[str, dict], seed: int = 0,
                   eval_points: int = 10, progress: bool = False) -> dict:
    """Run each ``{label: {"strategy": name, "rounds": R, **options}}`` from the same θ₀."""
    net = experiment.make_network(seed)
    theta0 = net.get_flat()
    results = {"experiment": experiment.describe(), "seed": seed, "host": platform.node(),
               "initial": experiment.evaluate(theta0, seed), "strategies": {}}
    for label, cfg in configs.items():
        cfg = dict(cfg)
        name, rounds = cfg.pop("strategy"), cfg.pop("rounds")
        strategy = make_strategy(name, rounds=rounds, **cfg)
        strategy.adopt_experiment_defaults(experiment.local_params)
        fleet = InProcessFleet({d: FederatedClient(experiment, d, seed).handle for d in experiment.device_ids()},
                               seed=seed)
        started = time.perf_counter()
        theta, history = run_federated(
            strategy, fleet, theta0, shared_mask_for(net, strategy), rounds,
            evaluate=lambda th: experiment.evaluate(th, seed), eval_every=max(1, rounds // eval_points),
            seed=seed, progress=progress)
        curve = curve_points(history)
        results["strategies"][label] = {
            "strategy": name, "config": strategy.config.to_dict(), "rounds": rounds,
            "final": history[-1]["eval"], "curve": curve,
            "client_updates": int(sum(len(h["answered"]) for h in history)),
            "local_steps": int(history[-1]["device_updates_total"]),
            "bytes_per_round": float(np.mean([h["bytes_down"] + h["bytes_up"] for h in history])),
            "bytes_down_per_round": float(np.mean([h["bytes_down"] for h in history])),
            "bytes_up_per_round": float(np.mean([h["bytes_up"] for h in history])),
            "bytes_total": int(sum(h["bytes_down"] + h["bytes_up"] for h in history)),
            "wall_s": time.perf_counter() - started}
        final = results["strategies"][label]
        print(f"{experiment.name:10s} {label:14s} {experiment.metric}={final['final'][experiment.metric]:.4f} "
              f"client_updates={final['client_updates']} steps={final['local_steps']} "
              f"bytes/round={final['bytes_per_round']:.0f} ({final['wall_s']:.1f}s)", flush=True)
    return results


def write_results(name: str, results: dict, metric: str, x_key: str = "client_updates") -> Path:
    """JSON + learning curve (metric vs client updates) for every strategy."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"fl_{name}.json"
    path.write_text(json.dumps(results, indent=1))
    plot_learning_curves({label: res["curve"] for label, res in results["strategies"].items()}, metric,
                         RESULTS / f"fl_{name}.png", f"{name}: learning curves", x_key)
    return path
