"""Omniglot N-way K-shot with a whole 24 k-parameter CNN meta-learned by the fleet and adapted on
the device (no frozen backbone): does the federated starting point earn its keep?

Devices: halves of 6 training alphabets (12 non-IID devices); 2 whole alphabets held out per
seed (a different pair each seed, never in a round). Every method starts from the same θ₀
and is scored with the same on-device adaptation: ``adapt_steps`` full-batch SGD steps on
the K-shot support set of 5 held-out characters (zeroed 5-way head), query accuracy over
``--episodes`` episodes, for K = 5 and K = 1 (the 1-shot score uses the model meta-trained
on 5-shot tasks). FedAvg and centralised pre-training train the ordinary way (one label per
training character, 178-way head, thrown away before adaptation).

Hyper-parameters were chosen on the tuning split 7 (Japanese + Tagalog held out, seed 100);
the report splits are 0..4. Writes benchmarks/results/fl_omniglot_cnn.json (+ .png).
Run: nice -n 5 .venv/bin/python benchmarks/fl/omniglot_cnn_bench.py [--seeds 5] [--scale 1]
"""
from __future__ import annotations

from common import RESULTS  # first: it pins BLAS to one thread before numpy loads
from meta_harness import bench_args, compare, write_report

import numpy as np

from edge_runtime.online.experiments.cnn import OmniglotCnn


def methods(scale: float) -> dict[str, dict]:
    r = lambda n: max(2, int(n * scale))  # noqa: E731
    batched = {"clients_per_round": 5, "local_steps": 10, "lr": 0.1}
    serial = {"local_steps": 25, "batch_size": 1, "lr": 0.01}
    return {
        "random_init": {"random": True},
        "fedavg": {"strategy": "fedavg", "rounds": r(40), "objective": "supervised", "batch_size": 10, **batched},
        "centralised": {"centralised": r(40) * 5 * 10, "batch_size": 10, "lr": 0.1, "objective": "supervised"},
        "fedavg_episodic": {"strategy": "fedavg", "rounds": r(40), "batch_size": 25, **batched},
        "reptile": {"strategy": "reptile", "rounds": r(40), "batch_size": 25, **batched},
        "tinyreptile": {"strategy": "tinyreptile", "rounds": r(400), **serial},
        "tinymetafed": {"strategy": "tinymetafed", "rounds": r(400), "reconstruct_steps": 25, **serial},
    }


def main() -> None:
    args = bench_args(__doc__, "fl_omniglot_cnn")

    def make(seed: int):
        return lambda objective="episodic": OmniglotCnn(split=seed + args.split_offset, objective=objective,
                                                        eval_episodes=args.episodes, samples_per_class=5,
                                                        head_init="prototypes")

    seeds = args.seed_values

    def keep(label: str, seed: int, theta) -> None:  # the model the TFLite/TFLM export bench adapts
        if label == "tinymetafed" and seed == 0:
            np.save(RESULTS / "fl_cache" / "omniglot_cnn_tinymetafed_s0.npy", theta)

    summary = compare(make, methods(args.scale), seeds, shots=[5, 1], keep=keep)
    probe = make(0)()
    experiment = {**probe.describe(), "n_way": 5, "train_devices": len(probe.device_ids()),
                  "held_out_alphabets_per_seed": {s: make(s)().held_out_alphabets for s in seeds},
                  "episodes_per_seed": args.episodes}
    write_report(args, summary, experiment, [5, 1], "Omniglot 5-way, held-out alphabets")


if __name__ == "__main__":
    main()
