"""Fixtures of the foundation tests: the project's own tiny model files."""
from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "edge_runtime" / "models" / "fixtures"


@pytest.fixture(scope="session")
def tiny_onnx() -> Path:
    return FIXTURES / "tiny_mlp.onnx"


@pytest.fixture(scope="session")
def tiny_tflite() -> Path:
    path = FIXTURES / "tiny_mlp.tflite"
    if not path.exists():
        pytest.skip("tiny_mlp.tflite not committed: regenerate it with litert-torch installed "
                    "(python -m edge_runtime.models.fixtures.make_fixture)")
    return path
