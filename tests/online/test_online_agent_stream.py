"""The ``online`` task inside a real agent process: predictions and metrics reach the coordinator."""
from __future__ import annotations

from cloud_sync.coordinator import Coordinator
from edge_runtime.waiting import wait_until


def test_online_task_results_arrive_over_mqtt(mosquitto, start_agent, tmp_path, shared_data):
    task = {"kind": "online", "name": "presence", "interval_s": 0.2,
            "params": {"n_features": 5, "n_classes": 2, "hidden": [16], "samples_per_step": 500,
                       "metrics_every": 1000, "source": {"kind": "occupancy", "file": "datatest2.txt"}}}
    coordinator = Coordinator(mosquitto.url, tmp_path / "coord").start(wait_s=15)
    agent = start_agent("room-1", [task])
    try:
        wait_until(lambda: len([r for r in coordinator.results("room-1", "presence")
                                if r["body"].get("kind") == "metrics"]) >= 2, 90,
                   what=f"two metrics records from the online task (log: {agent.log_path})")
        records = coordinator.results("room-1", "presence")
        predictions = [r["body"] for r in records if r["body"].get("kind") == "predictions"]
        metrics = [r["body"] for r in records if r["body"].get("kind") == "metrics"]
        assert len(predictions[0]["predictions"]) == 500
        assert metrics[-1]["prequential_accuracy"] > 0.85 and metrics[-1]["trainable_state_bytes"] > 0
    finally:
        coordinator.stop()
