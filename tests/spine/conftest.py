"""Spine test helpers: coordinators, in-process agents and agent subprocesses."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cloud_sync.coordinator import Coordinator
from cloud_sync.mosquitto import MosquittoProcess
from edge_runtime.agent.runtime import Agent

REPO = Path(__file__).resolve().parents[2]


def agent_config(broker_url: str, state_dir: Path, device_id: str = "dev-1", **overrides) -> dict:
    config = {"device_id": device_id, "broker": broker_url, "state_dir": str(state_dir),
              "heartbeat_s": 1.0, "reconnect_min_s": 0.2, "reconnect_max_s": 2.0,
              "components": [], "tasks": []}
    config.update(overrides)
    return config


@pytest.fixture
def fast_mosquitto(tmp_path):
    """Mosquitto with TCP_NODELAY, as production should run it (request/response latency)."""
    (tmp_path / "mosq-fast").mkdir()
    broker = MosquittoProcess(workdir=tmp_path / "mosq-fast", extra_conf="set_tcp_nodelay true")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def make_coordinator(tmp_path):
    started: list[Coordinator] = []

    def make(broker_url: str | None, data_dir: Path | None = None, wait_s: float = 15.0,
             **kw) -> Coordinator:
        coord = Coordinator(broker_url, data_dir or tmp_path / f"coord-{len(started)}", **kw)
        started.append(coord)
        return coord.start(wait_s=wait_s)

    yield make
    for coord in reversed(started):
        coord.stop()


@pytest.fixture
def make_agent(tmp_path):
    started: list[Agent] = []

    def make(broker_url: str, device_id: str = "dev-1", **overrides) -> Agent:
        agent = Agent(agent_config(broker_url, tmp_path / f"agent-{device_id}", device_id, **overrides))
        started.append(agent)
        return agent.start()

    yield make
    for agent in reversed(started):
        agent.stop()


class AgentProcess:
    """``edge-runtime agent`` as a real child process (for SIGKILL tests)."""

    def __init__(self, config_file: Path, log_file: Path):
        self.config_file = config_file
        self.log_file = log_file
        self.proc: subprocess.Popen | None = None

    def start(self) -> "AgentProcess":
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        log = open(self.log_file, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "edge_runtime.cli", "-v", "agent",
                                      "--config", str(self.config_file)],
                                     cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
