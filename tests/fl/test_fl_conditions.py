"""Rounds under fleet conditions: 30 % of the selected vanish mid-round, stragglers miss the
deadline, late joiners appear only after their round — and the rounds still complete."""
from __future__ import annotations

import numpy as np
import pytest

from cloud_sync.fl import make_strategy
from cloud_sync.fl.conditions import FleetConditions, SimulatedFleet
from cloud_sync.fl.runner import run_federated, shared_mask_for
from edge_runtime.online.experiments import build_experiment
from edge_runtime.online.fl_client import FederatedClient


def _fleet(conditions: FleetConditions, n: int = 20):
    exp = build_experiment("sine", n_devices=n, n_eval_tasks=3)
    handlers = {d: FederatedClient(exp, d).handle for d in exp.device_ids()}
    return exp, SimulatedFleet(handlers, conditions, seed=1)


@pytest.mark.parametrize("secure", [False, True])
def test_rounds_complete_with_thirty_percent_dropping_mid_round(secure):
    exp, fleet = _fleet(FleetConditions(dropout=0.3))
    net = exp.make_network(0)
    strategy = make_strategy("fedavg", rounds=6, clients_per_round=10, local_steps=4, lr=0.02,
                             secure_aggregation=secure)
    theta, history = run_federated(strategy, fleet, net.get_flat(), shared_mask_for(net, strategy), 6)
    dropped = [len(h["selected"]) - len(h["answered"]) for h in history]
    assert sum(dropped) > 0 and all(len(h["answered"]) > 0 for h in history)
    assert 0.15 < sum(dropped) / sum(len(h["selected"]) for h in history) < 0.45
    assert all(h["bytes_lost"] > 0 for h, d in zip(history, dropped) if d)
    assert not np.allclose(theta, net.get_flat())
    assert all((h["bytes_secagg"] > 0) == secure for h in history)


def test_stragglers_miss_the_deadline_and_late_joiners_wait():
    conditions = FleetConditions(straggler_share=0.3, slowdown=50, step_s=0.1, late_share=0.25, join_round=3)
    exp, fleet = _fleet(conditions)
    net = exp.make_network(0)
    strategy = make_strategy("fedavg", rounds=6, clients_per_round=20, local_steps=8, lr=0.02)
    _, history = run_federated(strategy, fleet, net.get_flat(), shared_mask_for(net, strategy), 6, deadline_s=5.0)
    assert fleet.late and all(not set(h["selected"]) & fleet.late for h in history[:3])
    assert any(set(h["selected"]) & fleet.late for h in history[3:])
    slow = {d for d, s in fleet.slowness.items() if s * 8 * 0.1 > 5.0}
    assert slow and all(not set(h["answered"]) & slow for h in history)
    assert fleet.counts["late_replies"] > 0


def test_conditions_are_range_checked():
    with pytest.raises(ValueError, match="dropout"):
        FleetConditions(dropout=1.0)
    with pytest.raises(ValueError, match="slowdown"):
        FleetConditions(slowdown=0.5)
