"""QoS1 results are acknowledged only after they are committed: a coordinator SIGKILLed
between receipt and commit loses nothing (the broker redelivers to its persistent session)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt

from cloud_sync.protocol import TopicTree, encode, envelope
from edge_runtime.waiting import wait_until

TOPICS = TopicTree()
HELPER = Path(__file__).with_name("stalled_coordinator.py")
REPO = Path(__file__).resolve().parents[2]
N = 400


def test_sigkill_between_receipt_and_commit_loses_nothing(mosquitto, make_coordinator, tmp_path):
    data, progress = tmp_path / "coord", tmp_path / "progress"
    stalled = subprocess.Popen([sys.executable, str(HELPER), mosquitto.url, str(data), str(progress)],
                               cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # the stalled coordinator has subscribed once it announced itself (retained presence)
        wait_until(lambda: progress.exists(), 20, what="the stalled coordinator to start")
        seen = []
        watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher")
        watcher.on_message = lambda c, u, m: seen.append(m.topic)
        watcher.connect("127.0.0.1", mosquitto.port)
        watcher.subscribe(TOPICS.coordinator_presence("main"))
        watcher.loop_start()
        wait_until(lambda: seen, 20, what="the stalled coordinator's presence")
        watcher.loop_stop()
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="device-sim")
        pub.connect("127.0.0.1", mosquitto.port)
        pub.loop_start()
        infos = [pub.publish(TOPICS.device("dev-k", "result/echo"),
                             encode(envelope("dev-k", i, {"n": i})), qos=1) for i in range(N)]
        for info in infos:
            info.wait_for_publish(10)
        # received (up to the broker's in-flight window), none committed: kill it right there
        received = wait_until(lambda: int(progress.read_text() or 0) or None, 20,
                              what="messages received by the stalled coordinator")
        stalled.send_signal(signal.SIGKILL)
        stalled.wait(10)
    finally:
        if stalled.poll() is None:
            stalled.kill()
    assert received > 0
    coord = make_coordinator(mosquitto.url, data)       # same client id: the persistent session
    assert wait_until(lambda: coord.count_results() == N, 30, what=f"all {N} results stored")
    assert coord.flush(10) and coord.count_results() == N
    seqs = sorted(r["seq"] for r in coord.results(device="dev-k", limit=N + 10))
    assert seqs == list(range(N))
    pub.loop_stop()
    pub.disconnect()
    print(f"received before SIGKILL: {received}; stored after restart: {coord.count_results()} of {N}")
