"""FSDD spoken digits per speaker with a whole 18 k-parameter CNN on a 32×20 log-mel image: the
fleet (speaker = device, 5 training speakers) learns the start, a held-out speaker (a different
one per seed, never in a round) adapts it on ``shots`` takes per digit (30 full-batch SGD
steps) and is tested on its other 48 takes per digit.

Labels are the same on every device here (digits), so FedAvg trains exactly the task and
meta-learning has less to add than on Omniglot — this benchmark is where to look for that.
Hyper-parameters were chosen on the tuning split (--split-offset 5: yweweler held out).
``--words-per-device 2`` is the label-skewed fleet (setting (a) of issue #20): each training
speaker's recordings dealt over 5 devices holding 2 digits each (25 devices), same budgets.
Writes benchmarks/results/fl_fsdd_cnn.json (+ .png).
Run: nice -n 19 .venv/bin/python benchmarks/fl/fsdd_cnn_bench.py [--seeds 5] [--scale 1] [--words-per-device 2 --out fl_fsdd_cnn_skewed]
"""
from __future__ import annotations

from meta_harness import bench_args, compare, write_report

from edge_runtime.online.experiments.cnn import FsddCnn


def methods(scale: float) -> dict[str, dict]:
    r = lambda n: max(2, int(n * scale))  # noqa: E731
    batched = {"clients_per_round": 3, "local_steps": 10, "batch_size": 10, "lr": 0.05}
    serial = {"local_steps": 50, "batch_size": 1, "lr": 0.01}
    return {"random_init": {"random": True},
            "fedavg": {"strategy": "fedavg", "rounds": r(40), **batched},
            "centralised": {"centralised": r(40) * 3 * 10, "batch_size": 10, "lr": 0.05},
            "reptile": {"strategy": "reptile", "rounds": r(40), **batched},
            "tinyreptile": {"strategy": "tinyreptile", "rounds": r(200), **serial},
            "tinymetafed": {"strategy": "tinymetafed", "rounds": r(200), **serial}}


def main() -> None:
    args = bench_args(__doc__, "fl_fsdd_cnn", extra=lambda ap: ap.add_argument(
        "--words-per-device", type=int, default=10, help="digits each device holds (2 = label-skewed fleet)"))

    def make(seed: int):
        return lambda objective="episodic": FsddCnn(split=seed + args.split_offset,
                                                    words_per_device=args.words_per_device)

    summary = compare(make, methods(args.scale), args.seed_values, shots=[2])
    probe = make(0)()
    experiment = {**probe.describe(), "train_devices": len(probe.device_ids()),
                  "words_per_device": args.words_per_device,
                  "held_out_speaker_per_seed": {s: make(s)().held_out for s in args.seed_values}}
    write_report(args, summary, experiment, [2], "FSDD held-out speakers, 2 takes per digit")


if __name__ == "__main__":
    main()
