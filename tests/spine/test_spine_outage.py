"""Nothing lost, nothing duplicated: broker outages, SIGKILLed agents, a broker that comes late."""
from __future__ import annotations

import sqlite3
import time

import yaml

from cloud_sync.mosquitto import MosquittoProcess, free_port
from cloud_sync.protocol import decode
from edge_runtime.waiting import wait_until

from .conftest import AgentProcess, agent_config


def _hold(seconds: float, check) -> None:
    """Let an outage last ``seconds`` while asserting ``check()`` holds throughout."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        check()
        time.sleep(0.5)


def _stored_seqs(coord, device: str) -> list[int]:
    coord.flush()
    return [row["seq"] for row in coord.results(device=device, limit=100_000)]


def _outbox_rows(state_dir) -> list[dict]:
    db = sqlite3.connect(f"file:{state_dir / 'outbox.sqlite'}?mode=ro", uri=True)
    try:
        return [decode(bytes(p)) for (p,) in db.execute("SELECT payload FROM outbox ORDER BY id")]
    finally:
        db.close()


def test_broker_killed_for_30_s_while_agent_publishes_1000_results(mosquitto, make_coordinator,
                                                                    make_agent):
    coord = make_coordinator(mosquitto.url)
    agent = make_agent(mosquitto.url, "out-1", tasks=[
        {"kind": "echo", "name": "echo", "interval_s": 0.02, "params": {"limit": 1000}}])
    wait_until(lambda: coord.count_results("out-1") >= 25, 15, what="first results stored")
    mosquitto.stop(kill=True)
    # the outbox may be empty at the instant of the kill (every result acknowledged): sample from
    # the first result the agent had to keep, not from a race with the last PUBACK
    wait_until(lambda: agent.outbox.backlog > 0, 5, what="first result kept in the outbox offline")
    backlog = []

    def producing_offline():
        assert agent.runners["echo"].task.counter <= 1000
        backlog.append(agent.outbox.backlog)
    _hold(30.0, producing_offline)
    assert not agent.link.connected.is_set()
    assert backlog[-1] > backlog[0] > 0, "results kept accumulating in the outbox during the outage"
    mosquitto.start()

    wait_until(lambda: coord.count_results("out-1") >= 1000, 60, what="all 1000 results stored")
    wait_until(lambda: agent.outbox.backlog == 0, 15, what="outbox empty after PUBACKs")
    rows = coord.results(device="out-1", limit=5000)
    assert len(rows) == 1000
    assert sorted(r["seq"] for r in rows) == list(range(1, 1001))
    assert len({r["msg_id"] for r in rows}) == 1000
    assert sorted(r["body"]["n"] for r in rows) == list(range(1, 1001))
    replayed = [r for r in rows if r["historical"]]
    assert backlog[-1] - 50 <= len(replayed) < 1000  # live ones before the outage are not flagged
    assert agent.outbox.dropped == 0


def test_agent_sigkilled_during_outage_then_restarted_loses_and_duplicates_nothing(
        mosquitto, make_coordinator, tmp_path):
    coord = make_coordinator(mosquitto.url)
    state_dir = tmp_path / "sk-state"
    config = agent_config(mosquitto.url, state_dir, "sk-1", reconnect_max_s=1.0, tasks=[
        {"kind": "echo", "name": "echo", "interval_s": 0.02}])
    config_file = tmp_path / "agent.yaml"
    config_file.write_text(yaml.safe_dump(config))
    agent = AgentProcess(config_file, tmp_path / "agent.log").start()
    try:
        wait_until(lambda: coord.count_results("sk-1") >= 25, 30, what="results from the process")
        mosquitto.stop(kill=True)
        wait_until(lambda: len(_outbox_rows(state_dir)) >= 50, 20, what="backlog during the outage")
        agent.kill()  # SIGKILL while the broker is down and the outbox holds a backlog
        pending = _outbox_rows(state_dir)
        assert len(pending) >= 50

        agent.start()
        mosquitto.start()
        pending_seqs = {m["seq"] for m in pending}
        wait_until(lambda: pending_seqs <= set(_stored_seqs(coord, "sk-1")), 40,
                   what="the backlog of the killed process stored")
        agent.kill()  # once more, now with the broker up: the last will marks it offline
        wait_until(lambda: not coord.device("sk-1")["state_online"], 15, what="last will (offline)")
    finally:
        agent.terminate()
    stored = _stored_seqs(coord, "sk-1")
    assert len(stored) == len(set(stored)), "a result was stored twice"
    left = {m["seq"] for m in _outbox_rows(state_dir)}
    everything = set(stored) | left
    assert everything == set(range(1, max(everything) + 1)), "a result was lost"
    assert max(stored) > max(pending_seqs)  # the restarted process continued the sequence


def test_agent_started_without_broker_connects_when_it_appears_20_s_later(tmp_path, make_coordinator,
                                                                          make_agent):
    broker = MosquittoProcess(port=free_port(), workdir=tmp_path / "late-broker")
    broker.workdir.mkdir()
    coord = make_coordinator(broker.url, wait_s=0)
    started = time.monotonic()
    agent = make_agent(broker.url, "late-1", reconnect_max_s=4.0, tasks=[
        {"kind": "echo", "name": "echo", "interval_s": 0.05, "params": {"limit": 100}}])
    try:
        def offline_but_working():
            assert not agent.link.connected.is_set()
        wait_until(lambda: agent.outbox.backlog == 100, 20, what="results stored offline")
        _hold(20.0 - (time.monotonic() - started), offline_but_working)
        assert "refused" in agent.link.last_error.lower()
        broker.start()
        wait_until(agent.link.connected.is_set, 15, what="agent connected after back-off")
        wait_until(lambda: coord.count_results("late-1") == 100, 30, what="backlog delivered")
        rows = coord.results(device="late-1")
        assert sorted(r["seq"] for r in rows) == list(range(1, 101))
        assert all(r["historical"] for r in rows)
    finally:
        broker.stop()
