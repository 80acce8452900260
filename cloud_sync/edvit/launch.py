"""Start a plan's devices as real ``edge-runtime agent`` processes on this machine.

Used by the acceptance test and the benchmark (devices as separate processes, talking
MQTT through a broker), and handy for trying a plan without hardware: each process
hosts the ``edvit`` task for the sub-models the plan places on its device id.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from edge_runtime.edvit.plan import Plan

REPO = Path(__file__).resolve().parents[2]


class AgentProcess:
    """One ``edge-runtime agent`` child process with an ``edvit`` task."""

    def __init__(self, device_id: str, broker_url: str, plan_root: Path | None, workdir: Path, *,
                 profile: str | None = None, threads: int = 1, task_name: str = "edvit",
                 task_kind: str = "edvit", params: dict | None = None, verbose: bool = False):
        """``task_kind``/``params`` replace the default ``edvit`` task (e.g. the recorded stand-in
        of ``edge_runtime.edvit.standin``); ``verbose`` runs the agent with ``-v`` (INFO log)."""
        self.device_id = device_id
        self.verbose = verbose
        params = params if params is not None else {"plan": str(Path(plan_root).resolve()), "threads": threads}
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{device_id}.log"
        self.config_path = workdir / f"{device_id}.json"
        self.config_path.write_text(json.dumps({
            "device_id": device_id, "broker": broker_url, "profile": profile,
            "state_dir": str(workdir / f"state-{device_id}"), "heartbeat_s": 1.0,
            "reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "components": [],
            "tasks": [{"kind": task_kind, "name": task_name, "interval_s": 0, "params": params}]}))
        self.proc: subprocess.Popen | None = None

    def start(self) -> "AgentProcess":
        with open(self.log_path, "ab") as log:
            flags = ["-v"] if self.verbose else []
            self.proc = subprocess.Popen([sys.executable, "-m", "edge_runtime.cli", *flags, "agent",
                                          "--config", str(self.config_path)], cwd=REPO,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                         stdout=log, stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        """SIGKILL: the device vanishes without a goodbye (its broker will says offline)."""
        self.proc.kill()
        self.proc.wait(10)

    def log_contains(self, text: str) -> bool:
        """Whether the agent's log has ``text`` yet (to wait on what it did, not on a sleep)."""
        return self.log_path.is_file() and text in self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def start_plan_agents(plan: Plan, broker_url: str, workdir: Path, **options) -> dict[str, AgentProcess]:
    """One agent process per device of the plan's placement (profile from the plan)."""
    devices = plan.manifest.get("devices", {})
    return {device: AgentProcess(device, broker_url, plan.root, workdir,
                                 profile=devices.get(device, {}).get("profile") or None, **options).start()
            for device in plan.devices()}


def wait_online(coordinator, agents: dict[str, AgentProcess], timeout_s: float = 90) -> None:
    """Block until the coordinator sees every agent online; the error names the log to read."""
    from edge_runtime.waiting import wait_until

    for device, agent in agents.items():
        if agent.proc.poll() is not None:
            raise RuntimeError(f"agent {device} exited with {agent.proc.returncode}; see {agent.log_path}")
        wait_until(lambda: (coordinator.device(device) or {}).get("online"), timeout_s,
                   what=f"agent {device} online (log: {agent.log_path})")
