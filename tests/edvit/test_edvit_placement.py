"""Greedy placement: memory and compute from real device profiles, re-pruning, clear failures."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cloud_sync.edvit.placement import (Demand, Device, InfeasibleFleet, NoFit, candidates_from_graph,
                                        demand_of, devices_from_profiles, greedy_place, memory_need,
                                        place_with_repruning)
from cloud_sync.edvit.prune import prune_vit, unit_importance
from cloud_sync.edvit.vit import TinyVit, VitConfig, count_parameters


def test_largest_first_onto_the_device_that_finishes_earliest():
    devices = [Device("slow", 10_000, 1.0), Device("fast", 10_000, 4.0)]
    demands = [Demand(0, 3000, 4_000_000_000), Demand(1, 2000, 1_000_000_000), Demand(2, 1000, 1_000_000_000)]
    placement = greedy_place(demands, devices, ram_fraction=1.0)
    # sub-model 0 (largest): 1 s on fast vs 4 s on slow -> fast; 1: fast would finish at 1.25 s,
    # slow at 1 s -> slow; 2: fast at 1.25 s beats slow at 2 s -> fast
    assert placement == {0: "fast", 1: "slow", 2: "fast"}


def test_memory_budget_is_respected_and_reported():
    devices = [Device("a", 4000, 10.0), Device("b", 4000, 10.0)]
    with pytest.raises(NoFit) as miss:
        greedy_place([Demand(0, 1500, 1), Demand(1, 1500, 1), Demand(2, 1500, 1)], devices, ram_fraction=0.5)
    assert miss.value.index == 2
    assert greedy_place([Demand(0, 1500, 1), Demand(1, 1500, 1)], devices, 0.5) == {0: "a", 1: "b"}


def test_profiles_give_ram_and_compute_and_mcus_are_not_candidates():
    devices = {d.id: d for d in devices_from_profiles({"pi": "raspberry-pi-4b-2gb", "m4": "arduino-nano-33-ble-sense"})}
    assert devices["pi"].ram_bytes == 2 * 2 ** 30 and devices["pi"].onnxruntime
    assert not devices["m4"].onnxruntime
    config = VitConfig()
    with pytest.raises(InfeasibleFleet, match="none of the 1 devices runs ONNX Runtime"):
        place_with_repruning({0: config}, {0: 1.0}, [devices["m4"]], lambda i, k: config)
    assert place_with_repruning({0: config}, {0: 1.0}, list(devices.values()),
                                lambda i, k: config) == {0: "pi"}


def test_memory_need_grows_with_the_model_and_includes_the_runtime():
    small, big = VitConfig(embed_dim=16, heads=[2, 2], mlp=[32, 32]), VitConfig()
    assert memory_need(small, runtime_bytes=0) < memory_need(big, runtime_bytes=0)
    assert memory_need(big, runtime_bytes=0) > 4 * count_parameters(TinyVit(big))
    assert memory_need(big) - memory_need(big, runtime_bytes=0) == 24 * 2 ** 20


@pytest.fixture(scope="module")
def real_vit():
    torch.manual_seed(0)
    model = TinyVit(VitConfig()).eval()
    x = np.random.default_rng(0).random((16, 1, 8, 8), dtype=np.float32)
    return model, unit_importance(model, x, np.arange(16) % 10)


def test_a_sub_model_that_fits_nowhere_is_pruned_harder_until_it_fits(real_vit):
    model, importance = real_vit
    configs = {i: prune_vit(model, importance, 0.8).config for i in range(2)}
    keeps = {0: 0.8, 1: 0.8}
    budget = memory_need(prune_vit(model, importance, 0.45).config, runtime_bytes=0)
    devices = [Device("tiny-1", budget, 1.0), Device("tiny-2", budget, 1.0)]
    calls = []

    def reprune(index, keep):
        calls.append((index, round(keep, 3)))
        return prune_vit(model, importance, keep).config

    placement = place_with_repruning(configs, keeps, devices, reprune, ram_fraction=1.0, runtime_bytes=0)
    assert sorted(placement.values()) == ["tiny-1", "tiny-2"]
    assert all(keep < 0.8 for keep in keeps.values()) and calls[0] == (0, 0.56)
    for index, device in placement.items():
        assert demand_of(index, configs[index], runtime_bytes=0).memory_bytes <= budget


def test_an_impossible_fleet_names_the_smallest_device_and_sub_model(real_vit):
    model, importance = real_vit
    configs = {0: prune_vit(model, importance, 0.5).config, 1: prune_vit(model, importance, 0.3).config}
    devices = [Device("big", 10 ** 9, 1.0, "raspberry-pi-4b-2gb"), Device("crumb", 3000, 1.0, "custom-mcu")]
    # 'big' takes one sub-model; nothing fits 'crumb', even pruned to the minimum
    with pytest.raises(InfeasibleFleet) as error:
        place_with_repruning(configs, {0: 0.5, 1: 0.3}, [devices[1]],
                             lambda i, k: prune_vit(model, importance, k).config,
                             ram_fraction=1.0, runtime_bytes=0)
    message = str(error.value)
    assert "smallest device: crumb (custom-mcu" in message and "smallest sub-model: 1" in message
    assert "--ram-fraction" in message


def test_fleet_graph_filters_candidates(tmp_path):
    from device_profiles import load_profile
    from ontology.describe_device import device_graph
    from ontology.describe_events import status_graph
    from ontology.store import GraphStore

    fleet = {"pi-a": "raspberry-pi-4b-2gb", "m4": "arduino-nano-33-ble-sense", "pi-off": "raspberry-pi-4b-2gb"}
    store = GraphStore.open(None)
    for device_id, profile in fleet.items():
        store.add_graph(device_graph(load_profile(profile), device_id))
        store.set_properties(status_graph(device_id, device_id != "pi-off", "2026-01-01T00:00:00Z"))
    devices = devices_from_profiles({**fleet, "pi-unknown": "raspberry-pi-4b-2gb"})
    chosen = candidates_from_graph(store, devices, min_ram_bytes=1 << 20)
    assert [d.id for d in chosen] == ["pi-a"]
