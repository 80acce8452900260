"""The project's own tiny model: committed ONNX/TFLite files agree with the PyTorch model."""
from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.bundle.lockfile import EXPORTER_INSTALL_HINT
from edge_runtime.models import load_model
from edge_runtime.models.fixtures.make_fixture import build_model, export_onnx, sample_input

torch = pytest.importorskip("torch", reason="torch (the 'train' extra) makes the reference outputs")


def reference(x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return build_model()(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("backend,fixture", [("onnxruntime", "tiny_onnx"), ("litert", "tiny_tflite"),
                                             ("tflm", "tiny_tflite")])
def test_committed_fixture_agrees_with_pytorch(backend, fixture, request):
    runner = load_model(request.getfixturevalue(fixture), backend=backend)
    for seed in range(3):
        x = sample_input(seed).numpy()
        np.testing.assert_allclose(runner.run(x)[0], reference(x), rtol=1e-4, atol=1e-5)


def test_fixture_files_are_small(tiny_onnx):
    assert tiny_onnx.stat().st_size < 50_000


def test_fresh_onnx_export_matches(tmp_path):
    path = export_onnx(build_model(), tmp_path / "fresh.onnx")
    x = sample_input(7).numpy()
    np.testing.assert_allclose(load_model(path).run(x)[0], reference(x), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_fresh_tflite_export_matches(tmp_path):
    """litert-torch (the 'convert' extra) is heavy to import (~30 s): slow, and skipped without it."""
    pytest.importorskip("litert_torch", reason=f"litert-torch not importable: {EXPORTER_INSTALL_HINT}")
    from edge_runtime.models.fixtures.make_fixture import export_tflite
    path = export_tflite(build_model(), tmp_path / "fresh.tflite")
    x = sample_input(7).numpy()
    np.testing.assert_allclose(load_model(path, backend="litert").run(x)[0], reference(x), rtol=1e-4, atol=1e-5)
