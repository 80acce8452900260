"""An unreachable broker is reported within 5 s, with the URL and the reason, while retrying:
by the link itself and by the agent's and coordinator's commands (they looked hung before)."""
from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time

from cloud_sync.mosquitto import free_port
from cloud_sync.protocol.link import Link


def test_link_warns_at_once_with_url_and_reason(caplog):
    port = free_port()                      # nothing listens here
    caplog.set_level(logging.WARNING, logger="cloud_sync.protocol.link")
    link = Link(f"mqtt://127.0.0.1:{port}", "probe").start()
    started = time.monotonic()
    try:
        while time.monotonic() - started < 5 and not caplog.records:
            time.sleep(0.05)
    finally:
        link.stop()
    assert caplog.records, "no warning within 5 s"
    message = caplog.records[0].getMessage()
    assert f"127.0.0.1:{port}" in message and "retrying" in message
    assert "refused" in message.lower() or "reach" in message.lower()


def _first_lines(cmd: list[str], seconds: float, until: str = "retrying") -> str:
    """The command's output until a line contains ``until`` (or ``seconds`` pass), then stop it."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not any(until in line for line in lines) and proc.poll() is None:
        time.sleep(0.05)
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    reader.join(5)
    return "".join(lines)


def test_agent_command_says_the_broker_is_unreachable(tmp_path):
    port = free_port()
    out = _first_lines([sys.executable, "-m", "edge_runtime.cli", "agent", "--device-id", "d1",
                        "--broker", f"mqtt://127.0.0.1:{port}", "--state-dir", str(tmp_path)], 8)
    assert f"127.0.0.1:{port}" in out and "retrying" in out, out


def test_coordinator_command_says_the_broker_is_unreachable(tmp_path):
    port = free_port()
    out = _first_lines([sys.executable, "-m", "cloud_sync.cli", "coordinator", "--broker", f"mqtt://127.0.0.1:{port}",
                        "--data", str(tmp_path), "--http-port", "0"], 8)
    assert f"127.0.0.1:{port}" in out and "retrying" in out, out
