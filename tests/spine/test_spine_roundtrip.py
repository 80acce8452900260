"""Agent ↔ coordinator round trips against a real Mosquitto (and once against embedded amqtt)."""
from __future__ import annotations

import numpy as np

from edge_runtime.waiting import wait_until

ECHO = [{"kind": "echo", "name": "echo", "interval_s": 0.05, "params": {"limit": 20}}]


def test_result_command_and_desired_config_round_trip(mosquitto, make_coordinator, make_agent):
    coord = make_coordinator(mosquitto.url)
    events = []
    coord.add_listener(events.append)
    agent = make_agent(mosquitto.url, "pi-1", tasks=ECHO)

    wait_until(lambda: coord.count_results("pi-1", "echo") == 20, 15, what="20 echo results stored")
    rows = coord.results(device="pi-1", task="echo")
    assert [r["body"]["n"] for r in rows] == list(range(1, 21))
    assert [r["seq"] for r in rows] == list(range(1, 21))
    wait_until(lambda: agent.outbox.backlog == 0, 10, what="outbox drained after PUBACKs")

    device = coord.device("pi-1")
    assert device["online"] and device["td"]["title"] == "pi-1"
    pong = coord.command("pi-1", "ping", timeout=10)
    assert pong.ok and pong.body["pong"] is True and pong.bytes_in > 0 and pong.latency_s < 10
    bad = coord.command("pi-1", "no_such_command", timeout=10)
    assert not bad.ok and "ping" in bad.error

    version = coord.set_desired_config("pi-1", {"heartbeat_s": 0.5})
    wait_until(lambda: (coord.device("pi-1")["reported"] or {}).get("version") == version, 10,
               what="config/reported with the desired version")
    reported = coord.device("pi-1")["reported"]
    assert reported["applied"] and reported["config"]["heartbeat_s"] == 0.5
    assert agent.config.heartbeat_s == 0.5
    assert coord.command("pi-1", "get_config").body["config"]["heartbeat_s"] == 0.5
    refused = coord.command("pi-1", "set_config", {"config": {"device_id": "evil"}})
    assert refused.ok and refused.body["applied"] is False and "cannot set" in refused.body["error"]

    health = wait_until(lambda: coord.health_history("pi-1"), 10, what="heartbeats stored")
    last = health[-1]["body"]
    assert {"cpu_percent", "mem", "outbox", "versions", "tasks"} <= set(last)
    assert last["tasks"]["echo"]["kind"] == "echo" and "backlog" in last["outbox"]
    kinds = {e.kind for e in events}
    assert {"td", "state", "health", "result", "reply", "config"} <= kinds


def test_task_requests_carry_arrays_and_fan_out_with_a_deadline(fast_mosquitto, make_coordinator,
                                                                make_agent):
    coord = make_coordinator(fast_mosquitto.url)
    for name in ("a-1", "a-2"):
        make_agent(fast_mosquitto.url, name, tasks=[{"kind": "echo", "name": "echo", "interval_s": 0}])
    for name in ("a-1", "a-2"):
        wait_until(lambda: (coord.device(name) or {}).get("online"), 10, what=f"{name} online")
    x = np.random.default_rng(1).normal(size=(16, 64)).astype(np.float32)
    reply = coord.request("a-1", "echo", {"x": x, "q": x.astype(np.int8)}, timeout_s=10)
    assert reply.ok and reply.body["echo"]["x"].dtype == np.float32
    np.testing.assert_array_equal(reply.body["echo"]["x"], x)
    assert reply.bytes_out > x.nbytes and reply.bytes_in > x.nbytes

    latencies = [coord.request("a-1", "echo", {"i": i}, timeout_s=10).latency_s for i in range(50)]
    assert np.median(latencies) < 0.05, f"median round trip {np.median(latencies) * 1000:.1f} ms"

    replies = coord.request_many(["a-1", "a-2", "ghost"], "echo", {"k": 1}, deadline_s=2.0)
    assert replies["a-1"].body == {"echo": {"k": 1}} and replies["a-2"].ok
    assert replies["ghost"] is None
    missing = coord.request("a-2", "nope", {}, timeout_s=10)
    assert not missing.ok and "no task" in missing.error


class RecordingComponent:
    """A component as the OTA engineer would write one: subscribes to deploy orders."""

    instances: list["RecordingComponent"] = []

    def __init__(self, host):
        self.host = host
        self.seen = []
        RecordingComponent.instances.append(self)

    def start(self):
        self.host.subscribe("deploy/+/order", self.on_order)

    def on_order(self, message):
        self.seen.append(message.body)
        self.host.publish(f"deploy/{message.suffix.split('/')[1]}",
                          {"state": "healthy", "tasks": sorted(self.host.tasks)}, durable=True)


def test_components_load_by_class_path_and_missing_ones_are_skipped(mosquitto, make_coordinator,
                                                                    make_agent):
    coord = make_coordinator(mosquitto.url)
    RecordingComponent.instances.clear()
    path = f"{__name__}:RecordingComponent"
    agent = make_agent(mosquitto.url, "ota-1", tasks=ECHO,
                       components=["edge_runtime.no_such_module:Thing", path])
    component = RecordingComponent.instances[-1]
    assert component.host.device_id == "ota-1" and component.host.state_dir.is_dir()
    assert len(agent.components) == 1
    wait_until(lambda: coord.device("ota-1") and coord.device("ota-1")["online"], 10, what="online")
    assert coord.publish("ota-1", "deploy/job-1/order", {"model": "kws-v2"})
    wait_until(lambda: coord.deployments("ota-1"), 10, what="deploy state stored")
    assert component.seen == [{"model": "kws-v2"}]
    assert coord.deployments("ota-1")[0]["state"] == "healthy"


def test_device_goes_offline_by_heartbeat_timeout_and_by_clean_stop(mosquitto, make_coordinator,
                                                                   make_agent):
    coord = make_coordinator(mosquitto.url, offline_after_s=1.5)
    agent = make_agent(mosquitto.url, "lw-1", heartbeat_s=0.3)
    wait_until(lambda: (coord.device("lw-1") or {}).get("online"), 10, what="online")
    agent.config.heartbeat_s = 60.0  # silent but connected: only the timeout can notice
    agent._heartbeat_wake.set()
    wait_until(lambda: not coord.device("lw-1")["online"], 10, what="offline by heartbeat timeout")
    agent.stop()
    wait_until(lambda: not coord.device("lw-1")["state_online"], 10, what="offline state")


def test_embedded_amqtt_broker_path(make_coordinator, make_agent):
    coord = make_coordinator(None)
    assert coord.embedded_broker is not None and "protocol=3.1.1" in coord.broker_url
    make_agent(coord.broker_url, "emb-1", tasks=ECHO)
    wait_until(lambda: coord.count_results("emb-1") == 20, 20, what="results via amqtt")
    assert coord.command("emb-1", "ping", timeout=10).ok
