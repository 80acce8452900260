"""The demo keeps every capability alive for its whole run (issue 19: LiDAR and online
learning used to stop growing after ~130 s of a 180 s run). Slow: one full 180 s demo."""
from __future__ import annotations

import subprocess
import time

import pytest

from cloud_sync.coordinator.store import Store
from cloud_sync.mosquitto import free_port
from tests.demo.conftest import DemoRun

SECONDS = 180.0
LAST_STRETCH_S = 45.0


def _counts(data_dir) -> dict[str, int]:
    try:
        store = Store(data_dir / "cloud", readonly=True)
    except FileNotFoundError:
        return {}
    try:
        return dict(store.query("SELECT task, COUNT(*) FROM results GROUP BY task"))
    finally:
        store.close()


@pytest.mark.slow
def test_every_stream_still_grows_in_the_last_stretch_of_a_180_s_demo(tmp_path):
    run = DemoRun(tmp_path / "demo", free_port(), seconds=SECONDS)
    try:
        run.wait_for_line("fleet online", timeout=240)
        online_at = time.monotonic()
        samples: list[tuple[float, dict[str, int]]] = []
        while run.proc.poll() is None and time.monotonic() - online_at < SECONDS + 120:
            samples.append((time.monotonic() - online_at, _counts(run.data_dir)))
            try:
                run.proc.wait(5)                  # one sample every 5 s until the demo ends
            except subprocess.TimeoutExpired:
                pass
        summary = run.summary(timeout=120)
    finally:
        run.stop()
    assert run.proc.returncode == 0, run.output()
    end = max(t for t, _ in samples)
    before = next(c for t, c in reversed(samples) if t <= end - LAST_STRETCH_S)
    final = samples[-1][1]
    tasks = sorted(summary["stored_by_workload"])
    assert len(final) >= 5, f"too few task streams stored: {final}"
    stalled = {task: (before.get(task, 0), n) for task, n in final.items() if n <= before.get(task, 0)}
    assert not stalled, (f"streams that stopped growing in the last {LAST_STRETCH_S:.0f} s of {end:.0f} s "
                         f"(before, at end): {stalled}; workloads {tasks}")
