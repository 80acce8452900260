"""The federated Omniglot CNN, adapted on one held-out 5-way 5-shot episode, exported to TFLite
(float32 and full int8) and run under TFLite Micro: arena, file size, agreement with numpy and
query accuracy per format, held against the Cortex-M4 board profile (256 KB RAM, 1 MB flash).

θ: the TinyMetaFed model the Omniglot benchmark saved (seed 0), or a short run here.
Needs litert-torch + ai-edge-quantizer (the ``convert`` extra; a throwaway venv works).
Writes benchmarks/results/fl_export_cnn_tflm.json.
Run: python benchmarks/fl/export_cnn_tflm_bench.py [--theta benchmarks/results/fl_cache/omniglot_cnn_tinymetafed_s0.npy]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from common import RESULTS

from edge_runtime.online.experiments.base import LocalData, adapt
from edge_runtime.online.experiments.cnn import OmniglotCnn
from edge_runtime.online.export import check_under_tflm, export_tflite, quantise_int8

PROFILE = "arduino-nano-33-ble-sense"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--theta", type=Path, default=RESULTS / "fl_cache" / "omniglot_cnn_tinymetafed_s0.npy")
    args = ap.parse_args()
    import device_profiles

    experiment = OmniglotCnn(split=0, head_init="prototypes")
    theta = np.load(args.theta)
    rng = np.random.default_rng(0)
    chosen = rng.choice(experiment.test_classes, size=5, replace=False)
    perms = [rng.permutation(experiment.by_class[int(c)]) for c in chosen]
    support = LocalData(experiment.x[np.concatenate([p[:5] for p in perms])], np.repeat(np.arange(5), 5))
    query_x = experiment.x[np.concatenate([p[5:] for p in perms])]
    query_y = np.repeat(np.arange(5), 15)
    net, start = experiment.adaptation_start(theta)
    net.set_flat(start)
    experiment.init_task_head(net, support)
    adapt(net, net.get_flat(), support, experiment.adapt_steps, experiment.adapt_lr, 25, rng)
    numpy_acc = float(np.mean(net.predict(query_x) == query_y))

    profile = device_profiles.load_profile(PROFILE)
    out = {"model": f"omniglot_cnn {experiment.channels}, {net.n_params} params, adapted on one held-out episode",
           "theta": str(args.theta.relative_to(RESULTS.parent.parent)) if args.theta.is_relative_to(RESULTS.parent.parent) else str(args.theta),
           "numpy_query_accuracy": numpy_acc, "profile": PROFILE, "profile_ram_bytes": profile.ram_bytes,
           "training_state_bytes_float32": net.trainable_bytes, "formats": {}}
    float_path = export_tflite(net, RESULTS / "fl_cache" / "omniglot_cnn_adapted_f32.tflite")
    int8_path = quantise_int8(float_path, support.x, RESULTS / "fl_cache" / "omniglot_cnn_adapted_int8.tflite")
    for name, path in (("float32", float_path), ("int8", int8_path)):
        check = check_under_tflm(net, path, query_x)
        from edge_runtime.models import load_model

        runner = load_model(str(path), backend="tflm")
        logits = np.concatenate([np.asarray(runner.run(q[None])[0]).reshape(1, -1) for q in query_x])
        out["formats"][name] = {**check, "tflm_query_accuracy": float(np.mean(logits.argmax(1) == query_y)),
                                "fits_ram": check["arena_bytes"] <= profile.ram_bytes,
                                "fits_flash": check["file_bytes"] <= profile.storage_bytes,
                                "arena_share_of_ram": check["arena_bytes"] / profile.ram_bytes}
    print(json.dumps(out, indent=1))
    (RESULTS / "fl_export_cnn_tflm.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
