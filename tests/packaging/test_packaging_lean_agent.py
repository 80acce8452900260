"""The idle agent stays lean: connected, online, heartbeating, with an OTA component ready, it
has imported no numpy, no inference backend, no rdflib/ontology and no cryptography (each is
loaded when the work that needs it arrives). Measured figures: benchmarks/agent_footprint_bench.py."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "scipy", "onnxruntime", "ai_edge_litert", "tflite_micro", "rdflib", "ontology",
         "pyoxigraph", "pyshacl", "cryptography", "torch", "importlib.metadata")
IDLE_AGENT = r"""
import json, sys, tempfile, threading
import paho.mqtt.client as mqtt
from edge_runtime.agent.runtime import Agent
port = int(sys.argv[1])
online, beat = threading.Event(), threading.Event()
def seen(c, u, m):
    (online if m.topic.endswith("/state") else beat).set()
watch = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
watch.on_message = seen
watch.connect("127.0.0.1", port)
watch.subscribe([("edge/v1/default/lean/state", 1), ("edge/v1/default/lean/health", 0),
                 ("edge/v1/default/lean/td", 1)])
watch.loop_start()
agent = Agent({"device_id": "lean", "broker": f"mqtt://127.0.0.1:{port}", "state_dir": tempfile.mkdtemp(),
               "profile": "raspberry-pi-4b-4gb", "heartbeat_s": 0.5, "wait_for_coordinator": False}).start()
ok = online.wait(20) and beat.wait(20)
loaded = sorted(m for m in sys.modules)
agent.stop()
print(json.dumps({"ok": ok, "modules": loaded}))
"""


def test_idle_agent_imports_nothing_heavy(mosquitto):
    done = subprocess.run([sys.executable, "-c", IDLE_AGENT, str(mosquitto.port)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"], "the agent never came online and sent a heartbeat"
    loaded = set(report["modules"])
    assert "edge_runtime.ota.component" in loaded, "the OTA component should be loaded (and lean)"
    heavy = sorted(m for m in loaded if m in HEAVY or m.split(".")[0] in HEAVY)
    assert not heavy, f"an idle agent imported {heavy}"


@pytest.mark.slow
def test_footprint_benchmark_meets_the_size_and_memory_goals(tmp_path):
    """Short form of benchmarks/agent_footprint_bench.py (3 start runs, 10 agents)."""
    out = tmp_path / "footprint.json"
    done = subprocess.run([sys.executable, "benchmarks/agent_footprint_bench.py", "--runs", "3", "--fleet", "10",
                           "--idle-s", "5", "--out", str(out)], capture_output=True, text=True, timeout=1800)
    assert out.exists(), done.stderr[-3000:]
    goals = json.loads(out.read_text())["goals"]
    for key in ("base_install_mb", "idle_rss_mb", "litert_task_rss_mb"):
        assert goals[key]["met"], (key, goals[key])
    assert goals["start_max_s"]["measured"] < 5 and goals["fleet_online_s"]["measured"] < 60


def test_an_agent_started_without_a_profile_describes_this_board_validly():
    """The README's plain `edge-runtime agent --broker … --device-id …` used to register a
    description the fleet graph refused (SHACL: no class, RAM, storage), leaving the device out
    of every SPARQL answer: the agent now detects its board unless told otherwise."""
    from edge_runtime.agent.config import AgentConfig
    from edge_runtime.agent.health import thing_description
    from edge_runtime.agent.runtime import load_device_profile
    from ontology.describe_device import graph_from_thing_description
    from ontology.shacl import validate

    config = AgentConfig.from_dict({"device_id": "plain-01"})
    assert config.profile == "auto"
    profile = load_device_profile(config.profile)
    assert profile is not None and profile.ram_bytes > 0
    _, graph = graph_from_thing_description(thing_description("plain-01", profile, []))
    assert validate(graph) == []
    _, bare = graph_from_thing_description(thing_description("plain-02", None, []))
    assert validate(bare), "a description without a profile should still be refused (the test's control)"
