"""Join benchmark parts run on disjoint seeds (``--seed-list``, in parallel) into one report with
the confidence intervals and margins recomputed over all seeds.
Run: python benchmarks/fl/merge_results.py OUT part1 part2 ...   (names under benchmarks/results/)
"""
from __future__ import annotations

import json
import sys

from common import RESULTS
from meta_harness import finish_report, merge_parts


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    out, names = argv[0], argv[1:]
    parts = [json.loads((RESULTS / f"{n}.json").read_text()) for n in names]
    if len({tuple(p["methods"]) for p in parts}) != 1:
        raise SystemExit("parts ran different methods; run them with the same version of the benchmark")
    finish_report(merge_parts(parts), RESULTS / f"{out}.json")


if __name__ == "__main__":
    main(sys.argv[1:])
