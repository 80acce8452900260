"""Coordinator replicas split ingest through MQTT 5 shared subscriptions ($share/<group>/...)."""
from __future__ import annotations

from edge_runtime.waiting import wait_until


def test_two_replicas_share_ingest_and_store_each_result_once(mosquitto, make_coordinator, make_agent,
                                                             tmp_path):
    shared_store = tmp_path / "fleet-store"
    replicas = [make_coordinator(mosquitto.url, shared_store, replica_id=name, share_group="ingest")
                for name in ("r1", "r2")]
    make_agent(mosquitto.url, "rep-1", tasks=[
        {"kind": "echo", "name": "echo", "interval_s": 0.01, "params": {"limit": 400, "per_step": 4}}])
    wait_until(lambda: replicas[0].count_results("rep-1") == 400, 30, what="400 results stored")
    for replica in replicas:
        replica.flush()
    stored = [replica.writer.stored for replica in replicas]
    assert sum(stored) == 400, stored
    assert min(stored) > 0, f"the broker gave one replica everything: {stored}"
    rows = replicas[1].results(device="rep-1", limit=1000)
    assert sorted(r["seq"] for r in rows) == list(range(1, 401))
    # Device state is not shared: both replicas know the device.
    assert all((r.device("rep-1") or {}).get("state_online") for r in replicas)
