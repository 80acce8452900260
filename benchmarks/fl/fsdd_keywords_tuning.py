"""Tuning split only (split 5: yweweler held out) for ``fsdd_keywords_bench.py``: round counts
and the serial learners' step size, every variant in one same-run comparison, so the report
bench's settings are chosen before any report seed is measured.
Writes benchmarks/results/fl_tuning_fsdd_keywords.json (+ .png).
Run: nice -n 19 .venv/bin/python benchmarks/fl/fsdd_keywords_tuning.py [--episodes 30]
     [--train-words 0,1,2,3,4,5,6 --n-way 3 --train-way 5 --out fl_tuning_fsdd_keywords_3way]
"""
from __future__ import annotations

from common import RESULTS  # noqa: F401  first: pins BLAS to one thread before numpy loads
from fsdd_keywords_bench import keyword_factory, keyword_options, methods
from meta_harness import bench_args, compare, write_report


def variants() -> dict[str, dict]:
    base = methods(1.0)
    out = {"random_init": base["random_init"]}
    for rounds in (40, 150, 300):
        out[f"fedavg_r{rounds}"] = {**base["fedavg"], "rounds": rounds}
    out["fedavg"] = out["fedavg_r150"]  # the margins table compares against this one
    out["centralised_r300"] = {**base["centralised"], "centralised": 300 * 3 * 10}
    for name in ("tinyreptile", "tinymetafed"):
        for rounds in (200, 600):
            for lr in (0.01, 0.03):
                out[f"{name}_r{rounds}_lr{lr}"] = {**base[name], "rounds": rounds, "lr": lr}
    out["reptile_r150"] = {**base["reptile"], "rounds": 150}
    return out


def main() -> None:
    args = bench_args(__doc__, "fl_tuning_fsdd_keywords", extra=keyword_options)
    args.seed_values = [0]
    args.split_offset = 5
    make = keyword_factory(args)

    summary = compare(make, variants(), args.seed_values, shots=[5, 1])
    write_report(args, summary, {"tuning_split": 5, "held_out": make(0)().held_out}, [5, 1],
                 "FSDD keywords, tuning split (yweweler)")


if __name__ == "__main__":
    main()
