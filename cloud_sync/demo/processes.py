"""Simulated devices as real agent processes, and a guarantee that none outlives the demo.

Each agent runs ``edge-runtime agent --config <file>`` in its own process group (so a
Ctrl-C in the terminal reaches only the demo, which then stops the agents in order),
with PR_SET_PDEATHSIG so that even a SIGKILLed demo leaves no orphan behind (Linux).
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: stop_all() still runs on every normal exit path
    os.setpgrp()


class AgentProcesses:
    def __init__(self, workdir: Path, broker_url: str):
        self.workdir = Path(workdir)
        self.broker_url = broker_url
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def spawn(self, device_id: str, config: dict[str, Any], heartbeat_s: float = 2.0,
              env: dict[str, str] | None = None) -> subprocess.Popen:
        home = self.workdir / device_id
        home.mkdir(parents=True, exist_ok=True)
        config_file = home / "agent.json"
        config_file.write_text(json.dumps({**config, "device_id": device_id, "broker": self.broker_url,
                                           "state_dir": str(home / "state"), "heartbeat_s": heartbeat_s},
                                          indent=2))
        log = home / "agent.log"
        self.logs[device_id] = log
        cmd = [sys.executable, "-m", "edge_runtime.cli", "agent", "--config", str(config_file)]
        proc = subprocess.Popen(cmd, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
                                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        self.procs[device_id] = proc
        return proc

    def alive(self) -> dict[str, bool]:
        return {name: proc.poll() is None for name, proc in self.procs.items()}

    def kill(self, device_id: str) -> None:
        """Pull the plug on one device (SIGKILL), e.g. to show partial answers and alarms."""
        proc = self.procs.get(device_id)
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait(5)

    def tail(self, device_id: str, chars: int = 1500) -> str:
        log = self.logs.get(device_id)
        return log.read_text(errors="replace")[-chars:] if log and log.exists() else ""

    def stop_all(self, timeout: float = 10.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
