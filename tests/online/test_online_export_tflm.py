"""Slow: a trained head exported with litert-torch runs under TFLite Micro within a Cortex-M4 budget."""
from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.bundle.lockfile import EXPORTER_INSTALL_HINT
from edge_runtime.online.network import Network


@pytest.mark.slow
def test_exported_head_runs_under_tflm_in_a_cortex_m4_arena(tmp_path):
    pytest.importorskip("litert_torch", reason=f"litert-torch not importable: {EXPORTER_INSTALL_HINT}")
    pytest.importorskip("tflite_micro", reason="tflite-micro not installed")
    from edge_runtime.online.export import check_under_tflm, export_tflite

    net = Network.mlp([1, 64, 64, 1], loss="mse", activation="tanh", seed=3)
    path = export_tflite(net, tmp_path / "head.tflite")
    check = check_under_tflm(net, path, np.linspace(-5, 5, 20, dtype=np.float32)[:, None])
    assert check["max_abs_diff_vs_numpy"] < 1e-4
    assert 0 < check["arena_bytes"] < 256 * 1024 - check["file_bytes"]
