"""Fleet-scale test helpers: a coordinator on a real Mosquitto and the fleet simulator beside it."""
from __future__ import annotations

import pytest

from cloud_sync.coordinator import Coordinator


@pytest.fixture
def coordinator(mosquitto, tmp_path):
    coord = Coordinator(mosquitto.url, tmp_path / "coord").start(wait_s=15)
    yield coord
    coord.stop()


@pytest.fixture
def stored_ids():
    """coordinator -> {message id: rows holding it} (the primary key makes >1 impossible; checked)."""
    return lambda coord: dict(coord.store.query("SELECT msg_id, COUNT(*) FROM results GROUP BY msg_id"))
