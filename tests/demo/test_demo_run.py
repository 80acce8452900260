"""The README's main job: `cloud-sync demo` runs every landed workload end to end."""
from __future__ import annotations

import os
import signal

import psutil

from cloud_sync.coordinator.store import Store
from cloud_sync.demo.fleet import build_fleet


def test_demo_delivers_every_workload_to_store_and_graph(demo_run):
    summary = demo_run.summary(timeout=float(os.environ.get("DEMO_TEST_SECONDS", "60")) + 180)
    out = demo_run.output()
    assert demo_run.proc.returncode == 0, out
    fleet = build_fleet(6)
    assert summary["devices"] == len(fleet), out
    assert summary["online"] == len(fleet), out
    assert "workload failed" not in out, out
    assert summary["stored_by_workload"], f"no workload ran:\n{out}"
    for workload, stored in summary["stored_by_workload"].items():
        assert stored > 0, f"{workload}: nothing reached the coordinator store\n{out}"
        assert summary["graph_by_workload"].get(workload, 0) > 0, f"{workload}: not in the fleet graph\n{out}"
    # The store on disk agrees with what the demo reported.
    store = Store(demo_run.data_dir / "cloud", readonly=True)
    try:
        assert store.count_results() == summary["results"]
    finally:
        store.close()


def test_demo_leaves_no_processes_behind(demo_run):
    demo_run.summary(timeout=float(os.environ.get("DEMO_TEST_SECONDS", "60")) + 180)
    leftovers = [p for p in psutil.process_iter(["cmdline"])
                 if str(demo_run.data_dir) in " ".join(p.info["cmdline"] or [])]
    for proc in leftovers:
        proc.send_signal(signal.SIGKILL)
    assert not leftovers, f"agent processes outlived the demo: {[p.pid for p in leftovers]}"
