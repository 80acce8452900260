"""Start an installed agent (here: inside the emulated arm64 root) against a secured Mosquitto on
loopback and watch what a coordinator would see: the retained online state, a model result,
the offline state on a clean stop. Used by ``arm64_root_check``; kept apart so the broker and
MQTT side do not know about chroots or debootstrap.
"""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt

from cloud_sync.mosquitto import MosquittoProcess
from cloud_sync.protocol.codec import decode, encode, envelope
from cloud_sync.protocol.topics import TopicTree

ONLINE_TIMEOUT_S = 600.0      # imports of numpy/LiteRT under qemu on a loaded 2-core host are slow
RESULT_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 120.0


class Watcher:
    """A coordinator-side paho client that queues (seconds since t0, topic, decoded, retain)."""

    def __init__(self, port: int, username: str, password: str, t0: float):
        self.t0 = t0
        self.events: "queue.Queue[tuple[float, str, object, bool]]" = queue.Queue()
        self.connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"arm64-watch-{uuid.uuid4().hex[:6]}")
        self.client.username_pw_set(username, password)
        self.client.on_connect = lambda c, u, f, rc, p: rc.value == 0 and self.connected.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise RuntimeError(f"the coordinator user could not log in to the broker on port {port}")

    def _on_message(self, client, userdata, msg):
        try:
            body = decode(msg.payload).get("body")
        except Exception as exc:                     # hostile or broken payloads are data, too
            body = {"undecodable": repr(exc)}
        self.events.put((time.monotonic() - self.t0, msg.topic, body, bool(msg.retain)))

    def wait_for(self, predicate, timeout: float, alive=lambda: True):
        """First event matching ``predicate(topic, body)`` within ``timeout``, else None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and alive():
            try:
                event = self.events.get(timeout=min(1.0, max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                continue
            if predicate(event[1], event[2]):
                return event
        return None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _is_state(topic_name: str, online: bool):
    return lambda topic, body: topic == topic_name and isinstance(body, dict) and body.get("online") is online


def run_agent_in_root(argv: list[str], env: dict, store, port: int, device_id: str, work: Path) -> dict:
    """Run ``argv`` (the agent) until it is online and has published one model result, then
    SIGTERM it. Returns what was seen, with timings from process start."""
    coordinator = store.add("coordinator-arm64-check", role="coordinator")
    stay = "user root\n" if os.geteuid() == 0 else ""
    (work / "broker").mkdir(exist_ok=True)
    broker = MosquittoProcess(port=port, workdir=work / "broker", extra_conf=stay + store.mosquitto_conf(),
                              allow_anonymous=False).start()
    topics = TopicTree()
    state_topic = topics.device(device_id, "state")
    report: dict = {"online": False, "timings_s": {}}
    t0 = time.monotonic()
    watcher = Watcher(broker.port, coordinator.username, coordinator.password, t0)
    log_path = work / "agent.log"
    agent = None
    try:
        watcher.client.subscribe([(state_topic, 1), (topics.device(device_id, "result/#"), 1)])
        presence = encode(envelope("arm64-check", 0, {"online": True, "replica": "arm64-check"}))
        watcher.client.publish(topics.coordinator_presence("arm64-check"), presence, qos=1,
                               retain=True).wait_for_publish(10)   # opens the agent's delivery gate
        with open(log_path, "wb") as log:
            start = time.monotonic()
            watcher.t0 = start
            agent = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        alive = lambda: agent.poll() is None  # noqa: E731
        online = watcher.wait_for(_is_state(state_topic, True), ONLINE_TIMEOUT_S, alive)
        report["online"] = online is not None
        if online is None:
            report["failure"] = f"no online state within {ONLINE_TIMEOUT_S:.0f} s (agent exit {agent.poll()})"
            return report
        report["timings_s"]["agent_start_to_online"] = round(online[0], 2)
        result = watcher.wait_for(lambda topic, body: topic.startswith(topics.device(device_id, "result/")),
                                  RESULT_TIMEOUT_S, alive)
        if result is not None:
            report["timings_s"]["agent_start_to_first_model_result"] = round(result[0], 2)
            report["model_result"] = {"topic": result[1], "body": result[2]}
        report["retained_online_for_late_subscriber"] = _late_subscriber_sees(broker.port, coordinator, state_topic)
        stop = time.monotonic()
        agent.send_signal(signal.SIGTERM)
        offline = watcher.wait_for(_is_state(state_topic, False), STOP_TIMEOUT_S)
        report["offline_state_on_stop"] = offline is not None
        report["returncode"] = agent.wait(timeout=STOP_TIMEOUT_S)
        report["timings_s"]["agent_stop"] = round(time.monotonic() - stop, 2)
        return report
    finally:
        if agent is not None and agent.poll() is None:
            agent.kill()
            agent.wait()
        watcher.close()
        broker.stop()
        report["log_tail"] = log_path.read_text(errors="replace")[-2500:] if log_path.exists() else ""


def _late_subscriber_sees(port: int, coordinator, state_topic: str) -> dict:
    """A client that connects after the agent: does the broker hand it the retained online state?"""
    late = Watcher(port, coordinator.username, coordinator.password, time.monotonic())
    try:
        late.client.subscribe(state_topic, 1)
        event = late.wait_for(lambda topic, body: topic == state_topic, 10.0)
        return {"received": event is not None, "retain_flag": bool(event and event[3]),
                "online": bool(event and isinstance(event[2], dict) and event[2].get("online"))}
    finally:
        late.close()
