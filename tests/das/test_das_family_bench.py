"""The family benchmark's bookkeeping: dasly's batches cover the scene once; scores aggregate."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_dasly_batches_cover_every_instant_once():
    peer = _load("das_peer_dasly")
    for duration in (60.0, 90.0, 120.0, 137.5):
        starts = peer.batch_starts(duration)
        assert starts[0] == 0.0 and starts[-1] + peer.BATCH_S == duration
        assert all(b - a <= peer.GAP_S + 1e-9 for a, b in zip(starts, starts[1:]))
    # the low-pass delay dasly's causal filter adds (the issue measured ~0.9 s)
    assert 0.5 < peer.lowpass_delay_s(500.0) < 1.5


def test_score_and_aggregate_report_mean_and_worst():
    bench = _load("das_family_bench")
    truth = [{"t_center_s": 10.0, "speed_kmh": 80.0, "cls": "car", "group": "free"},
             {"t_center_s": 20.0, "speed_kmh": -60.0, "cls": "truck", "group": "crossing"}]
    meta = {"truth": truth, "duration_s": 60.0}
    perfect = bench.score(meta, [{"t_center_s": 10.2, "speed_kmh": 81.0, "class": "car"},
                                 {"t_center_s": 19.9, "speed_kmh": -60.5, "class": "truck"}], True)
    half = bench.score(meta, [{"t_center_s": 10.2, "speed_kmh": 81.0}, {"t_center_s": 40.0, "speed_kmh": 90.0}],
                       False)
    assert perfect["f1"] == 1.0 and perfect["balanced_accuracy"] == 1.0
    assert half["tp"] == 1 and half["fp"] == 1 and half["fn"] == 1 and half["missed_groups"] == ["crossing"]
    rows = [{"seed": 1, "ours": {**perfect, "cpu_s": 1.0}}, {"seed": 2, "ours": {**half, "cpu_s": 2.0}}]
    agg = bench.aggregate(rows, "ours")
    assert agg["worst_seed"] == 2 and agg["worst_f1"] == half["f1"]
    assert np.isclose(agg["mean_f1"], (1.0 + half["f1"]) / 2, atol=1e-4) and agg["cpu_s_total"] == 3.0
