"""The SPARQL benchmark script runs end to end on a small fleet (slow: run with --runslow)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "sparql_bench.py"


@pytest.mark.slow
def test_sparql_bench_small_fleet(tmp_path):
    spec = importlib.util.spec_from_file_location("sparql_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    assert bench.main(["--devices", "300", "--reps", "3", "--rdflib-reps", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["goals"]["all_rows_match"]
    assert set(report["queries"]) >= {"capable_devices", "devices_offline_since"}
    assert report["load"]["speedup"] > 1.0
    assert report["load"]["oxigraph_views_s"] > 0
    persistent = report["persistent_oxigraph"]
    assert set(persistent["queries"]) == set(persistent["memory_copy_queries"]) >= {"site_status", "capable_devices"}
