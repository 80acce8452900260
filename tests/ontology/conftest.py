"""Fixtures for the ontology tests: a small generated fleet and an in-memory store holding it."""
from __future__ import annotations

import pytest

from ontology.fleetgen import generate_fleet, load_fleet
from ontology.store import GraphStore


@pytest.fixture(scope="session")
def small_fleet():
    return generate_fleet(120, seed=11, fl_rounds=3)


@pytest.fixture(scope="session")
def fleet_ntriples(small_fleet) -> str:
    return small_fleet.ntriples()


@pytest.fixture
def fleet_store(fleet_ntriples):
    store = GraphStore.open(None)
    load_fleet(store, fleet_ntriples)
    yield store
    store.close()
