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
        split_plan(plan, digits, 3, SplitSettings(epochs=12, lr=2e-3, batch_size=128, keep_ratio=0.7,
                                                  progress=False), fusion_epochs=30)
        place_plan(plan, devices_from_profiles(FLEET), log=lambda _: None)
    finally:
        torch.set_num_threads(threads)
    return load_plan(root)


class AgentProcess:
    """``edge-runtime agent`` as a child process hosting the plan's ``edvit`` task."""

    def __init__(self, device_id: str, broker_url: str, plan_root, workdir):
        import json

        self.device_id = device_id
        self.log_path = workdir / f"{device_id}.log"
        self.config_path = workdir / f"{device_id}.json"
        self.config_path.write_text(json.dumps({
            "device_id": device_id, "broker": broker_url, "profile": FLEET.get(device_id),
            "state_dir": str(workdir / f"state-{device_id}"), "heartbeat_s": 1.0,
            "reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "components": [],
            "tasks": [{"kind": "edvit", "name": "edvit", "interval_s": 0,
                       "params": {"plan": str(plan_root), "threads": 1}}]}))
        self.proc = None

    def start(self) -> "AgentProcess":
        import os
        import subprocess
        import sys
        from pathlib import Path

        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "edge_runtime.cli", "agent",
                                      "--config", str(self.config_path)],
                                     cwd=Path(__file__).resolve().parents[2],
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except Exception:
                self.proc.kill()
                self.proc.wait(10)
