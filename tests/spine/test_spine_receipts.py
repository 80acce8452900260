"""End-to-end receipts: a broker that PUBACKed results and then dropped them past its queue
limit loses nothing, because the agent keeps each result until the coordinator's receipt.

The loss is made the way it happened in the 10k soak: the coordinator stops committing (here
another connection holds its SQLite write lock), so it acks nothing, the broker's in-flight
window to it fills, and past ``max_queued_messages`` Mosquitto drops what it had already
PUBACKed to the device. Without receipts those results are gone (the control case)."""
from __future__ import annotations

import sqlite3

import pytest

from cloud_sync.coordinator.receipts import seq_ranges
from cloud_sync.mosquitto import MosquittoProcess
from edge_runtime.waiting import wait_until

N = 60


def _echo(limit: int) -> list[dict]:
    return [{"kind": "echo", "name": "echo", "interval_s": 0.02, "params": {"limit": limit}}]


@pytest.mark.parametrize("receipts", [True, False], ids=["receipts", "hop-by-hop-only"])
def test_results_the_broker_dropped_are_sent_again(tmp_path, make_coordinator, make_agent, receipts):
    (tmp_path / "small-queue").mkdir()
    broker = MosquittoProcess(workdir=tmp_path / "small-queue",
                              extra_conf="max_inflight_messages 5\nmax_queued_messages 5\n").start()
    try:
        coord = make_coordinator(broker.url, data_dir=tmp_path / "coord",
                                 receipt_interval_s=0.5 if receipts else None)
        assert coord.wait_ready(10), coord.link.last_error
        blocker = sqlite3.connect(tmp_path / "coord" / "coordinator.sqlite", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")          # the coordinator's commits now wait
        agent = make_agent(broker.url, "rx-1", tasks=_echo(N),
                           outbox={"receipt_timeout_s": 3.0})
        wait_until(lambda: agent.delivery.published >= N, 30, what="every result PUBACKed by the broker")
        blocker.execute("ROLLBACK")
        blocker.close()
        if receipts:
            wait_until(lambda: coord.count_results("rx-1") == N, 40, what="every result stored")
            wait_until(lambda: agent.outbox.backlog == 0, 10, what="every result confirmed")
            assert agent.delivery.resend_rounds >= 1 and agent.delivery.confirmed >= N
            assert coord.stats()["receipts_confirmed"] >= N
        else:
            wait_until(lambda: agent.outbox.backlog == 0, 10, what="the outbox emptied on PUBACKs")
            coord.flush()
            stored = coord.count_results("rx-1")
            assert stored < N, "the broker was expected to drop results past its queue limit"
    finally:
        broker.stop()


def test_receipt_ranges_and_hostile_receipts(tmp_path, mosquitto, make_coordinator, make_agent):
    assert seq_ranges([5, 3, 4, 9, 9, 1]) == [[1, 1], [3, 5], [9, 9]]
    coord = make_coordinator(mosquitto.url, receipt_interval_s=0.2)
    agent = make_agent(mosquitto.url, "rx-2", tasks=_echo(5))
    wait_until(lambda: coord.count_results("rx-2") == 5, 20, what="results stored")
    wait_until(lambda: agent.outbox.backlog == 0, 10, what="results confirmed")
    # A wide range and garbage on the receipt topic: counted as rejected, nothing breaks.
    coord.publish("rx-2", "receipt", {"seqs": [[1, 2**62]]}, qos=0)
    coord.publish("rx-2", "receipt", {"seqs": [[3, 1]]}, qos=0)
    coord.publish("rx-2", "receipt", {"seqs": "all"}, qos=0)
    wait_until(lambda: sum(agent.rejections.snapshot().values()) >= 2, 10, what="bad receipts rejected")
    assert agent.link.connected.is_set() and agent.delivery.confirmed == 5
