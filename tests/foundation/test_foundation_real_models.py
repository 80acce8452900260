"""Every real third-party .tflite model through the runner on LiteRT and on TFLite Micro.

One test id per model and backend. A model a backend cannot run is reported as xfail
with the backend's own reason (not hidden); the two backends must agree within two
quantisation steps (or a small relative tolerance for true float outputs). The whole
table is printed and written to test-artifacts/tflite_models_report.json.
"""
from __future__ import annotations

import json

import pytest

from edge_runtime.data_paths import shared_data_dir
from edge_runtime.models.crosscheck import crosscheck, format_table

_root = shared_data_dir()
MODELS = sorted(p.name for p in (_root / "tflite_models").glob("*.tflite")) if _root else []
REPORTS: dict[str, dict] = {}


def _report(shared_data, model: str) -> dict:
    if model not in REPORTS:
        REPORTS[model] = crosscheck(shared_data / "tflite_models" / model, seed=0)
    return REPORTS[model]


@pytest.fixture(scope="module", autouse=True)
def table(artifacts_dir):
    yield
    if REPORTS:
        reports = [REPORTS[m] for m in sorted(REPORTS)]
        print("\n" + format_table(reports))
        (artifacts_dir / "tflite_models_report.json").write_text(json.dumps(reports, indent=2))


def test_all_23_models_are_present(shared_data):
    assert len(list((shared_data / "tflite_models").glob("*.tflite"))) == 23


@pytest.mark.parametrize("model", MODELS or ["(no shared data)"])
@pytest.mark.parametrize("backend", ["litert", "tflm"])
def test_model_runs_and_backends_agree(shared_data, model, backend):
    report = _report(shared_data, model)
    info = report[backend]
    if not info["ok"]:
        pytest.xfail(f"{backend} cannot run {model}: {info['reason']}")
    assert info["latency"]["p50_ms"] > 0
    if backend == "tflm":
        assert 0 < info["arena_bytes"] < 4 << 20
    if report["agree"] is not None:
        assert report["agree"], (f"{model}: LiteRT and TFLite Micro differ by {report['max_difference']} "
                                 f"{report['difference_unit']} (tolerance {report['tolerance']})")
