"""One real demo run (`cloud-sync demo` as a user starts it) shared by the demo tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cloud_sync.mosquitto import free_port

DEMO_SECONDS = float(os.environ.get("DEMO_TEST_SECONDS", "60"))


class DemoRun:
    def __init__(self, data_dir: Path, port: int, seconds: float = DEMO_SECONDS):
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{port}/"
        self.lines: list[str] = []
        cmd = [sys.executable, "-m", "cloud_sync.cli", "demo", "--duration", str(seconds),
               "--devices", "6", "--http-port", str(port), "--data", str(data_dir)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.proc.poll() is not None:
                raise AssertionError(f"demo exited ({self.proc.returncode}) before {text!r}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"demo did not print {text!r} within {timeout} s:\n{self.output()}")
            time.sleep(0.1)

    def summary(self, timeout: float) -> dict:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"demo still running after {timeout} s:\n{self.output()}")
        self._reader.join(5)
        path = self.data_dir / "summary.json"
        assert path.exists(), f"no summary written:\n{self.output()}"
        return json.loads(path.read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    run = DemoRun(tmp_path_factory.mktemp("demo"), free_port())
    run.wait_for_line("fleet online", timeout=240)
    yield run
    run.stop()
