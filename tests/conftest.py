"""Fixtures shared by every test area. Each area keeps its own in tests/<area>/conftest.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from cloud_sync.mosquitto import MosquittoProcess
from edge_runtime.data_paths import ENV_VAR, shared_data_dir

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts"


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or os.environ.get("RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow benchmark: run with --runslow or RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared third-party data folder; tests needing it skip with the reason when absent."""
    root = shared_data_dir()
    if root is None:
        pytest.skip(f"shared data folder not found (set {ENV_VAR}=/path/to/shared/data)")
    return root


@pytest.fixture
def mosquitto(tmp_path):
    """A real Mosquitto on a free loopback port, stopped after the test."""
    broker = MosquittoProcess(workdir=tmp_path / "mosquitto")
    (tmp_path / "mosquitto").mkdir()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and plots for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
