"""`cloud-sync demo --broker URL` with nothing listening there fails in seconds with one line
(URL and reason) instead of setting up for minutes and then waiting past --duration."""
from __future__ import annotations

import subprocess
import sys
import time

from cloud_sync.mosquitto import free_port


def test_demo_with_an_unreachable_broker_exits_quickly_with_the_reason(tmp_path):
    port = free_port()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "cloud_sync.cli", "demo", "--broker", f"mqtt://127.0.0.1:{port}",
                           "--duration", "5", "--devices", "2", "--http-port", "0", "--data", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("cloud-sync: error:")]
    assert len(errors) == 1 and f"127.0.0.1:{port}" in errors[0] and "refused" in errors[0].lower(), done.stderr
    assert elapsed < 60, f"took {elapsed:.0f} s"
