"""Export the meta-learned sine model (TinyReptile, in-process) to TFLite with litert-torch,
run it under TFLite Micro, and hold its arena against the Cortex-M4 board profile (256 KB RAM).

Writes benchmarks/results/fl_export_tflm.json and benchmarks/results/fl_sine_tinyreptile.tflite.
Run: .venv/bin/python benchmarks/fl/export_tflm_bench.py [--rounds 1000]
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from common import RESULTS

from cloud_sync.fl import make_strategy
from cloud_sync.fl.fleet import InProcessFleet
from cloud_sync.fl.runner import run_federated, shared_mask_for
from edge_runtime.online.experiments.sine import SineExperiment
from edge_runtime.online.export import check_under_tflm, export_tflite
from edge_runtime.online.fl_client import FederatedClient

PROFILE = "arduino-nano-33-ble-sense"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=1000)
    args = ap.parse_args()
    experiment = SineExperiment(n_devices=1000, samples_per_round=32, n_eval_tasks=50)
    net = experiment.make_network(0)
    strategy = make_strategy("tinyreptile", rounds=args.rounds, local_steps=32, lr=0.01)
    fleet = InProcessFleet({d: FederatedClient(experiment, d).handle for d in experiment.device_ids()})
    theta, _ = run_federated(strategy, fleet, net.get_flat(), shared_mask_for(net, strategy), args.rounds)
    net.set_flat(theta)
    path = export_tflite(net, RESULTS / "fl_sine_tinyreptile.tflite")
    check = check_under_tflm(net, path, np.linspace(-5, 5, 50, dtype=np.float32)[:, None])
    import device_profiles

    profile = device_profiles.load_profile(PROFILE)
    result = {"model": "sine 1-64-64-1 tanh, TinyReptile meta-learned", "rounds": args.rounds,
              "mse_after_adaptation": experiment.evaluate(theta)["mse"], **check,
              "profile": PROFILE, "profile_ram_bytes": profile.ram_bytes,
              "arena_share_of_ram": check["arena_bytes"] / profile.ram_bytes,
              "fits": check["arena_bytes"] + check["file_bytes"] <= profile.ram_bytes}
    print(result)
    (RESULTS / "fl_export_tflm.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
