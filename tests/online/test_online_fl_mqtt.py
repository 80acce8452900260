"""Acceptance: TinyReptile rounds with 3 real agent processes over Mosquitto; resume after a
coordinator restart; a dead device makes the round go on with who answered."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cloud_sync.fl import make_strategy
from cloud_sync.fl.session import FederatedSession


def test_tinyreptile_three_agents_over_mosquitto(mosquitto, sine_agents, tmp_path):
    data = tmp_path / "coord"
    state = data / "fl" / "sine-tinyreptile"
    session = FederatedSession("sine", {"n_devices": 3}, make_strategy("tinyreptile", rounds=3, local_steps=16))
    summary = session.run(rounds=3, n_devices=3, broker=mosquitto.url, data_dir=data, state_dir=state,
                          deadline_s=30, wait_online_s=90, eval_every=1, progress=False)
    records = [json.loads(line) for line in (state / "rounds.jsonl").read_text().splitlines()]
    assert [r["round"] for r in records] == [0, 1, 2]
    for r in records:
        assert len(r["selected"]) == 1 and r["answered"] == r["selected"]
        assert r["selected"][0] in sine_agents
        assert r["bytes_down"] > 4353 * 4 and r["bytes_up"] > 4353 * 4  # float32 θ and Δ + envelope
        assert r["device_updates"] == 16
    assert summary["mode"] == "mqtt" and summary["client_updates"] == 3
    saved = json.loads((state / "state.json").read_text())
    assert saved["last_round"] == 2
    theta_after = np.load(state / saved["theta_file"])
    assert not np.allclose(theta_after, session.experiment.make_network(0).get_flat())

    # a "restarted" coordinator resumes after the last completed round, not from scratch
    resumed = FederatedSession("sine", {"n_devices": 3}, make_strategy("tinyreptile", rounds=4, local_steps=16))
    resumed.run(rounds=4, n_devices=3, broker=mosquitto.url, data_dir=data, state_dir=state,
                deadline_s=30, wait_online_s=90, progress=False)
    records = [json.loads(line) for line in (state / "rounds.jsonl").read_text().splitlines()]
    assert [r["round"] for r in records] == [0, 1, 2, 3]

    # selection through the fleet graph: the agents' TDs (generic-x86-64 profile) meet a RAM need,
    # and nobody meets an absurd one
    picky = FederatedSession("sine", {"n_devices": 3}, make_strategy("tinyreptile", rounds=1, local_steps=4))
    chosen = picky.run(rounds=1, n_devices=3, broker=mosquitto.url, data_dir=data, state_dir=data / "fl" / "ram",
                       deadline_s=30, wait_online_s=30, progress=False, requirements={"min_ram_bytes": 1 << 20})
    assert chosen["client_updates"] == 1
    with pytest.raises(TimeoutError):
        picky.run(rounds=1, n_devices=1, broker=mosquitto.url, data_dir=data, state_dir=data / "fl" / "none",
                  deadline_s=5, wait_online_s=4, progress=False, requirements={"min_ram_bytes": 1 << 50})

    # a device that died: the round waits for the deadline and aggregates the others
    victim = "dev-1"
    sine_agents[victim].kill()
    fedavg = FederatedSession("sine", {"n_devices": 3}, make_strategy("fedavg", rounds=1, clients_per_round=3,
                                                                       local_steps=4))
    out = fedavg.run(rounds=1, n_devices=2, broker=mosquitto.url, data_dir=data,
                     state_dir=data / "fl" / "dead", deadline_s=4, wait_online_s=5, progress=False)
    last = [json.loads(line) for line in (data / "fl" / "dead" / "rounds.jsonl").read_text().splitlines()][-1]
    assert victim not in last["answered"] and len(last["answered"]) >= 1
    assert out["client_updates"] == len(last["answered"])
