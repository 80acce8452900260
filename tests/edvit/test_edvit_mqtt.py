"""Acceptance: the digits plan on 3 agent processes over a real Mosquitto.

Fused accuracy within 2 pp of the full ViT; after one agent is SIGKILLed the answers are
flagged partial and name the missing device (API and ``cloud-sync edvit infer``).
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from cloud_sync.coordinator import Coordinator
from cloud_sync.edvit.client import DistributedClassifier
from cloud_sync.edvit.launch import start_plan_agents, wait_online
from edge_runtime.edvit.runner import SubmodelRunner


@pytest.fixture
def fleet(mosquitto, digits_plan, tmp_path):
    coordinator = Coordinator(mosquitto.url, tmp_path / "coord").start(wait_s=15)
    agents = start_plan_agents(digits_plan, mosquitto.url, tmp_path / "agents")
    try:
        wait_online(coordinator, agents)
        yield coordinator, agents
    finally:
        for agent in agents.values():
            agent.stop()
        coordinator.stop()


def test_three_agents_over_mosquitto_fuse_within_two_points_and_degrade_to_partial(
        fleet, digits_plan, digits, tmp_path):
    coordinator, agents = fleet
    classifier = DistributedClassifier(digits_plan, coordinator, deadline_s=20)
    answers = [classifier.classify(batch) for batch in np.array_split(digits.x_test, 4)]
    assert not any(a.partial for a in answers), [a.errors for a in answers]
    fused = float((np.concatenate([a.classes for a in answers]) == digits.y_test).mean())
    _, full_logits, _ = SubmodelRunner(digits_plan.path("full.onnx"), 8).run(digits.x_test)
    full = float((full_logits.argmax(1) == digits.y_test).mean())
    assert fused >= full - 0.02, f"fused over MQTT {fused:.4f} vs full ViT {full:.4f}"
    assert all(a.bytes_in > 0 and a.compute_s > 0 and a.latency_s >= a.compute_s for a in answers)

    victim = sorted(agents)[1]
    agents[victim].kill()
    classifier.deadline_s = 3.0
    degraded = classifier.classify(digits.x_test[:50])
    assert degraded.partial and degraded.missing_devices == [victim]
    assert degraded.missing_submodels == digits_plan.devices()[victim]
    assert float((degraded.classes == digits.y_test[:50]).mean()) > 0.5

    image = tmp_path / "digit.npy"
    np.save(image, digits.x_test[0, 0])
    out = subprocess.run([sys.executable, "-m", "cloud_sync.cli", "edvit", "infer", str(image),
                          "--plan", str(digits_plan.root), "--broker", coordinator.broker_url,
                          "--deadline", "3", "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["partial"] is True and answer["missing_devices"] == [victim]
    assert 0 <= answer["class"] <= 9
