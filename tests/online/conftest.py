"""Online/FL fixtures: real ``edge-runtime agent`` processes hosting the ``fl_client`` task."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


class AgentProcess:
    """One ``edge-runtime agent`` child process hosting the given task configs."""

    def __init__(self, device_id: str, broker_url: str, workdir: Path, tasks: list[dict]):
        workdir.mkdir(parents=True, exist_ok=True)
        self.device_id = device_id
        self.log_path = workdir / f"{device_id}.log"
        config = workdir / f"{device_id}.json"
        config.write_text(json.dumps({
            "device_id": device_id, "broker": broker_url, "profile": "generic-x86-64", "state_dir": str(workdir / f"state-{device_id}"),
            "heartbeat_s": 1.0, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "components": [],
            "tasks": tasks}))
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
    def fl_task(i: int) -> dict:
        return {"kind": "fl_client", "name": "fl", "interval_s": 0,
                "params": {"experiment": "sine", "experiment_params": {"n_devices": 3}, "data_device": f"sine-{i:03d}"}}
    agents = {f"dev-{i}": AgentProcess(f"dev-{i}", mosquitto.url, tmp_path / "agents", [fl_task(i)]) for i in range(3)}
    yield agents
    for agent in agents.values():
        agent.stop()


@pytest.fixture
def start_agent(mosquitto, tmp_path):
    """``start_agent(device_id, tasks)`` → a running agent process, stopped after the test."""
    started: list[AgentProcess] = []

    def start(device_id: str, tasks: list[dict]) -> AgentProcess:
        started.append(AgentProcess(device_id, mosquitto.url, tmp_path / "agents", tasks))
        return started[-1]
    yield start
    for agent in started:
        agent.stop()
