"""Online/FL fixtures: real ``edge-runtime agent`` processes hosting the ``fl_client`` task."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


class FlAgent:
    """One agent child process whose ``fl`` task trains on ``data_device``'s share of an experiment."""

    def __init__(self, device_id: str, broker_url: str, workdir: Path, experiment: str,
                 experiment_params: dict, data_device: str):
        workdir.mkdir(parents=True, exist_ok=True)
        self.device_id = device_id
        self.log_path = workdir / f"{device_id}.log"
        config = workdir / f"{device_id}.json"
        config.write_text(json.dumps({
            "device_id": device_id, "broker": broker_url, "profile": "generic-x86-64", "state_dir": str(workdir / f"state-{device_id}"),
            "heartbeat_s": 1.0, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "components": [],
            "tasks": [{"kind": "fl_client", "name": "fl", "interval_s": 0,
                       "params": {"experiment": experiment, "experiment_params": experiment_params,
                                  "data_device": data_device}}]}))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "edge_runtime.cli", "agent", "--config", str(config)],
                                         cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                         stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def sine_agents(mosquitto, tmp_path):
    """Three agents over the fixture's Mosquitto, each owning one sine task."""
    agents = {f"dev-{i}": FlAgent(f"dev-{i}", mosquitto.url, tmp_path / "agents", "sine",
                                  {"n_devices": 3}, f"sine-{i:03d}") for i in range(3)}
    yield agents
    for agent in agents.values():
        agent.stop()
