"""Records a task completes only at shutdown (``drain``) are kept and delivered."""
from __future__ import annotations

from edge_runtime.waiting import wait_until


def test_records_drained_at_shutdown_reach_the_store(mosquitto, make_coordinator, make_agent):
    coord = make_coordinator(mosquitto.url)
    tasks = [{"kind": "echo", "name": "echo", "interval_s": 0.2, "params": {"final_record": True}}]
    agent = make_agent(mosquitto.url, "drainer", tasks=tasks)
    wait_until(lambda: coord.count_results(device="drainer") >= 2, 20, what="first results")
    agent.stop()
    # Whatever the stop did not get out is in the outbox: a restart delivers it.
    restarted = make_agent(mosquitto.url, "drainer", tasks=[])

    def finals():
        return [r for r in coord.results(device="drainer", task="echo") if r["body"].get("final")]
    wait_until(lambda: finals(), 20, what="the drained final record")
    assert len(finals()) == 1
    ns = [r["body"]["n"] for r in coord.results(device="drainer", task="echo") if not r["body"].get("final")]
    assert finals()[0]["body"]["n"] == max(ns)
    restarted.stop()
