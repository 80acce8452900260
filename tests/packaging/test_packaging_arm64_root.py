"""The Raspberry Pi bundle in an arm64 Debian bookworm root under qemu-user emulation: install.sh
pip-installs the locked aarch64 wheels from PyPI, LiteRT and ONNX Runtime run the fixture models
(checked against the same models on the host), and the agent reaches a secured Mosquitto on
loopback with its retained online state and a model result. Slow (tens of minutes when the
root is new, several when cached): RUN_SLOW=1; the root is cached in $EDGE_ARM64_ROOT
(default /tmp/arm64root) and the record written to $EDGE_ARM64_RECORD when set.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import arm64_root_check as check  # noqa: E402
from edge_runtime.bundle.lockfile import device_pins  # noqa: E402

# Emulated pip installs on a loaded 2-core host take many minutes: above the suite's 600 s.
pytestmark = pytest.mark.timeout(3 * 3600)
# The same float32 graph on aarch64 (XNNPACK/MLAS NEON kernels) and x86 (AVX) may round
# differently in the last bits; anything larger is a wrong kernel or a wrong wheel.
MAX_ARCH_DIFF = 1e-4


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    missing = check.missing_tools()
    if missing:
        pytest.skip(f"needs {', '.join(missing)}: apt-get install qemu-user-static debootstrap binfmt-support")
    if os.geteuid() != 0:
        pytest.skip("needs root: debootstrap, chroot and mounting /proc in the arm64 root")
    emulation = check.ensure_binfmt()
    if emulation["mode"] != "binfmt":
        pytest.skip(f"this sandbox refuses binfmt_misc emulation: {emulation['refusal']}")
    result = check.run_check(check.DEFAULT_ROOT, emulation=emulation)
    out = Path(os.environ.get("EDGE_ARM64_RECORD") or tmp_path_factory.mktemp("arm64") / "arm64_root_check.json")
    out.write_text(json.dumps(result, indent=1) + "\n")
    return result


@pytest.mark.slow
def test_pi_bundle_installs_the_locked_aarch64_wheels(record):
    assert record.get("install", {}).get("returncode") == 0, record.get("install", record.get("refusal"))
    assert record["bundle"]["arch"] == "aarch64" and record["bundle"]["python"] == "3.11"
    assert record["pins_not_installed_as_locked"] == {}, record["pins_not_installed_as_locked"]
    assert "edge-runtime" in record["installed_versions"]


@pytest.mark.slow
def test_backends_import_and_infer_under_emulation_like_on_the_host(record):
    probe = record.get("probe_arm64")
    assert probe, record.get("probe_error", "install failed, no probe")
    assert probe["machine"] == "aarch64" and probe["python"].startswith("3.11.")
    assert probe["libc"] == "glibc 2.36", probe["libc"]          # what Pi OS Bookworm ships
    assert probe["executable"].startswith(check.PREFIX), probe["executable"]
    pins = device_pins("aarch64", "3.11")
    for module, dist in (("numpy", "numpy"), ("onnxruntime", "onnxruntime"),
                         ("ai_edge_litert.interpreter", "ai-edge-litert")):
        found = probe["imports"][module]
        assert found["file"].startswith(check.PREFIX), found        # the bundle's venv, not the host's
        if found["version"]:
            assert found["version"] == pins[dist], (module, found["version"], pins[dist])
    backends = {m["model"]: m["backend"] for m in probe["models"]}
    assert backends == {"tiny_mlp.tflite": "litert", "tiny_mlp.onnx": "onnxruntime"}
    for row in record["arm64_vs_x86"]:
        assert row["same_input"], row
        assert row["max_abs_diff"] and all(d is not None and d <= MAX_ARCH_DIFF for d in row["max_abs_diff"]), row


@pytest.mark.slow
def test_agent_in_the_arm64_root_goes_online_runs_its_model_and_stops_cleanly(record):
    agent = record.get("agent")
    assert agent, "install or probe failed before the agent could start"
    assert agent["online"], agent.get("failure", agent.get("log_tail"))
    assert agent["retained_online_for_late_subscriber"] == {"received": True, "retain_flag": True, "online": True}
    result = agent.get("model_result")
    assert result, f"no model result from the agent: {agent['log_tail']}"
    assert result["body"]["backend"] == "litert", result              # LiteRT ran inside the emulated root
    summary, = result["body"]["outputs"]                               # seeded input, as the probe's
    host = next(m for m in record["probe_host"]["models"] if m["model"] == "tiny_mlp.tflite")["outputs"][0]
    for key, expect in (("min", min(host)), ("max", max(host)), ("mean", sum(host) / len(host))):
        assert abs(summary[key] - expect) <= MAX_ARCH_DIFF, (key, summary, host)
    assert agent["offline_state_on_stop"], agent["log_tail"]
    assert agent["returncode"] == 0, agent["log_tail"]
