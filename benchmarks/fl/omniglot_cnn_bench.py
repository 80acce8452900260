"""Omniglot N-way K-shot with a whole 24 k-parameter CNN meta-learned by the fleet and adapted on
the device (no frozen backbone): does the federated starting point earn its keep?

Devices: halves of 6 training alphabets (12 non-IID devices); 2 whole alphabets held out per
seed (a different pair each seed, never in a round). Every method starts from the same θ₀
and is scored with the same on-device adaptation: ``adapt_steps`` full-batch SGD steps on
the K-shot support set of 5 held-out characters (prototype-initialised 5-way head), query
accuracy over ``--episodes`` episodes, for K = 5 and K = 1 (the 1-shot score uses the model
meta-trained on 5-shot tasks). FedAvg and centralised pre-training train the ordinary way (one
label per training character, head thrown away before adaptation).

Settings chosen on the tuning split 7 only (Japanese + Tagalog held out;
``omniglot_cnn_curves.py``, ``fl_tuning_omniglot_cnn_curves.jsonl``), applied to every method:
training characters rotated by 90/180/270° as new classes (``ROTATIONS``), and for the
episodic methods 20-way device tasks (``TRAIN_WAY``; evaluation stays 5-way). The report splits
are 0..4. Writes benchmarks/results/fl_omniglot_cnn.json (+ .png).
Run: nice -n 5 .venv/bin/python benchmarks/fl/omniglot_cnn_bench.py [--seeds 5] [--scale 1]
"""
from __future__ import annotations

from common import RESULTS  # first: it pins BLAS to one thread before numpy loads
from meta_harness import bench_args, chosen_methods, compare, write_report

import numpy as np

from cloud_sync.fl.conditions import FleetConditions
from edge_runtime.online.experiments.cnn import OmniglotCnn


FEDAVG_ROUNDS = 50      # FedAvg at ~6x the bytes of TinyMetaFed (the goal's byte budget: at most 1/5)
FEDAVG_LONG_ROUNDS = 200  # FedAvg given ~60x TinyMetaFed's bytes (and 2.4x its device FLOPs)
EPISODIC_ROUNDS = 40    # 40 x 5 devices x 10 steps x 25 samples: the serial methods' 50,000 sample-gradients
SERIAL_ROUNDS = 500
DROPOUT = FleetConditions(dropout=0.3)
ROTATIONS = 4    # tuning split: TinyReptile 2,000 rounds 70.5 -> 78.0 %, FedAvg 200 rounds 75.9 -> 81.8 %
TRAIN_WAY = 20   # tuning split: TinyReptile (rotations) 74.6 % after 1,000 rounds of 5-way tasks, 79.7 % after 500 of 20-way


def methods(scale: float) -> dict[str, dict]:
    r = lambda n: max(2, int(n * scale))  # noqa: E731
    batched = {"clients_per_round": 5, "local_steps": 10, "lr": 0.1}
    # one 20-way task of 5 drawings per character = 100 samples: one online pass, batch 1
    serial = {"local_steps": 100, "batch_size": 1, "lr": 0.03}
    return {
        "random_init": {"random": True},
        # at this budget FedAvg does better without the rotated classes (tuning split, 40 rounds:
        # 71.6 % vs 68.5 %), whose 712-way head also costs 2.5x the bytes per round
        "fedavg": {"strategy": "fedavg", "rounds": r(FEDAVG_ROUNDS), "objective": "supervised", "batch_size": 10,
                   "experiment": {"rotations": 1}, **batched},
        "fedavg_long": {"strategy": "fedavg", "rounds": r(FEDAVG_LONG_ROUNDS), "objective": "supervised",
                        "batch_size": 10, **batched},
        "centralised": {"centralised": r(FEDAVG_LONG_ROUNDS) * 5 * 10, "batch_size": 10, "lr": 0.1,
                        "objective": "supervised"},
        "fedavg_episodic": {"strategy": "fedavg", "rounds": r(EPISODIC_ROUNDS), "batch_size": 25, **batched},
        "reptile": {"strategy": "reptile", "rounds": r(EPISODIC_ROUNDS), "batch_size": 25, **batched},
        "tinyreptile": {"strategy": "tinyreptile", "rounds": r(SERIAL_ROUNDS), **serial},
        "tinymetafed": {"strategy": "tinymetafed", "rounds": r(SERIAL_ROUNDS), "reconstruct_steps": 25, **serial},
        # 30 % of the selected devices vanish mid-round (run as a supplementary arm: --methods)
        "fedavg_dropout30": {"strategy": "fedavg", "rounds": r(FEDAVG_ROUNDS), "objective": "supervised",
                             "batch_size": 10, "experiment": {"rotations": 1}, "conditions": DROPOUT, **batched},
        "tinymetafed_dropout30": {"strategy": "tinymetafed", "rounds": r(SERIAL_ROUNDS), "reconstruct_steps": 25,
                                  "conditions": DROPOUT, **serial},
    }


def main() -> None:
    args = bench_args(__doc__, "fl_omniglot_cnn")

    def make(seed: int):
        def experiment(objective: str = "episodic", **options) -> OmniglotCnn:
            settings = {"rotations": ROTATIONS, "train_way": TRAIN_WAY, **options}
            return OmniglotCnn(split=seed + args.split_offset, objective=objective, eval_episodes=args.episodes,
                               samples_per_class=5, head_init="prototypes", **settings)
        return experiment

    seeds = args.seed_values

    def keep(label: str, seed: int, theta) -> None:  # the model the TFLite/TFLM export bench adapts
        if label == "tinymetafed" and seed == 0 and args.scale == 1 and not args.method_names:
            np.save(RESULTS / "fl_cache" / "omniglot_cnn_tinymetafed_s0.npy", theta)

    summary = compare(make, chosen_methods(methods(args.scale), args.method_names), seeds, shots=[5, 1], keep=keep)
    probe = make(0)()
    experiment = {**probe.describe(), "n_way": 5, "train_way": TRAIN_WAY, "rotations": ROTATIONS, "train_devices": len(probe.device_ids()),
                  "held_out_alphabets_per_seed": {s: make(s)().held_out_alphabets for s in seeds},
                  "episodes_per_seed": args.episodes}
    write_report(args, summary, experiment, [5, 1], "Omniglot 5-way, held-out alphabets")


if __name__ == "__main__":
    main()
