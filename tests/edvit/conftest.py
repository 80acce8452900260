"""ED-ViT fixtures: one digits plan (full ViT + 3 pruned sub-models + fusion) per test session.

Training is the expensive part (~20-40 s on 2 busy cores), so the plan is built once in
a session temp dir and every test that needs trained models shares it read-only.
"""
from __future__ import annotations

import pytest
import torch

from cloud_sync.edvit.build import place_plan, split_plan, train_full
from cloud_sync.edvit.data import load_digits
from cloud_sync.edvit.placement import devices_from_profiles
from cloud_sync.edvit.split import SplitSettings
from edge_runtime.edvit.plan import load_plan

FLEET = {"pi-a": "raspberry-pi-4b-2gb", "pi-b": "raspberry-pi-3b-plus", "nano": "jetson-nano"}


@pytest.fixture(scope="session")
def digits():
    return load_digits()


@pytest.fixture(scope="session")
def digits_plan(tmp_path_factory, digits):
    """A placed 3-way plan on digits; its folder is shared, so tests must not modify it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # tiny matrices: threads only add overhead (and nondeterminism)
    try:
        root = tmp_path_factory.mktemp("edvit-plan")
        plan = train_full(digits, root, epochs=30, progress=False)
        split_plan(plan, digits, 3, SplitSettings(epochs=12, batch_size=128, keep_ratio=0.7,
                                                  progress=False), fusion_epochs=30)
        place_plan(plan, devices_from_profiles(FLEET), log=lambda _: None)
    finally:
        torch.set_num_threads(threads)
    return load_plan(root)

