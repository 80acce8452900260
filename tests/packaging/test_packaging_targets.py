"""The device locks hold on the devices themselves: every wheel a Raspberry Pi (Bookworm,
aarch64, glibc 2.36, CPython 3.11) or a Jetson on JetPack 6 (Ubuntu 22.04, aarch64, glibc 2.35,
CPython 3.10) needs exists on the registry as a binary wheel for that platform, and the 3.10
device side runs (agent + LiteRT + ONNX Runtime) on a real CPython 3.10.

Slow (downloads ~100 MB per target; pip's cache makes repeats fast): RUN_SLOW=1."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cloud_sync.mosquitto import MosquittoProcess
from edge_runtime.bundle.builder import build_project_wheel
from edge_runtime.bundle.lockfile import device_lock, normalise, read_pins

ROOT = Path(__file__).resolve().parents[2]
PYTHON310 = Path("/root/.pyenv/versions/3.10.13/bin/python")
# (name, arch, CPython, glibc minor of the device's OS)
DEVICES = [("raspberry-pi-os-bookworm", "aarch64", "3.11", 36), ("jetson-jetpack-6", "aarch64", "3.10", 35)]


def manylinux_tags(arch: str, glibc_minor: int) -> list[str]:
    """Every manylinux tag a glibc 2.<minor> system accepts: pip does not widen --platform
    (ai-edge-litert 2.3.0 ships only manylinux_2_27_aarch64), so all of them are passed."""
    return [f"manylinux_2_{m}_{arch}" for m in range(glibc_minor, 16, -1)] + [f"manylinux2014_{arch}"]


@pytest.mark.slow
@pytest.mark.parametrize("device,arch,python,glibc", DEVICES, ids=[d[0] for d in DEVICES])
def test_every_locked_wheel_exists_for_the_device(tmp_path, device, arch, python, glibc):
    lock = device_lock(arch, python)
    pins = read_pins(lock)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           "--implementation", "cp", "--python-version", python, "--abi", f"cp{python.replace('.', '')}",
           "-d", str(tmp_path), "-r", str(lock)]
    for tag in manylinux_tags(arch, glibc):
        cmd += ["--platform", tag]
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"{device}: a locked version has no {arch} wheel:\n{done.stderr[-3000:]}"
    wheels = {}
    for path in tmp_path.glob("*.whl"):
        name, version, *_, plat = path.stem.split("-")
        wheels[normalise(name)] = (version, plat)
    assert set(wheels) == set(pins), f"downloaded {sorted(wheels)} for pins {sorted(pins)}"
    for name, (version, plat) in wheels.items():
        assert version == pins[name], (name, version, pins[name])
        assert plat == "any" or arch in plat, f"{name}: wheel for {plat}, not {arch}"
    size = sum(p.stat().st_size for p in tmp_path.glob("*.whl"))
    print(f"{device}: {len(wheels)} wheels, {size / 2**20:.1f} MB, {time.monotonic() - started:.0f} s")


AGENT_ON_310 = r"""
import json, sys, tempfile, threading, time
import numpy
import paho.mqtt.client as mqtt
from edge_runtime.agent.runtime import Agent
from edge_runtime.models import load_model
port, tflite, onnx = int(sys.argv[1]), sys.argv[2], sys.argv[3]
outs = {b: load_model(p, backend=b).run(load_model(p, backend=b).random_inputs(seed=0))[0].tolist()
        for b, p in (("litert", tflite), ("onnxruntime", onnx))}
seen = threading.Event()
watch = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
watch.on_message = lambda c, u, m: json.loads(m.payload)["body"].get("online") and seen.set()
watch.connect("127.0.0.1", port); watch.subscribe("edge/v1/default/py310/state", qos=1); watch.loop_start()
agent = Agent({"device_id": "py310", "broker": f"mqtt://127.0.0.1:{port}", "state_dir": tempfile.mkdtemp(),
               "profile": "jetson-orin-nano", "wait_for_coordinator": False}).start()
online = seen.wait(30)
agent.stop()
print(json.dumps({"python": sys.version.split()[0], "numpy": numpy.__version__, "online": online, "outputs": outs}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not PYTHON310.exists(), reason=f"CPython 3.10 not found at {PYTHON310}")
def test_jetson_python_310_runs_the_agent_and_both_backends(tmp_path):
    """JetPack 6 ships CPython 3.10: the device side supports it (own lock) rather than a
    container adding 3.11. Same lock on x86_64 here: the versions are the ones a Jetson gets."""
    venv = tmp_path / "venv310"
    subprocess.run([str(PYTHON310), "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    lock = device_lock("x86_64", "3.10")
    assert read_pins(lock) == read_pins(device_lock("aarch64", "3.10")), "3.10 locks differ between arches"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(lock)], check=True, timeout=1800)
    wheel = build_project_wheel(tmp_path / "wheel")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    fixtures = ROOT / "edge_runtime" / "models" / "fixtures"
    (tmp_path / "mq").mkdir()
    with MosquittoProcess(workdir=tmp_path / "mq") as broker:
        done = subprocess.run([str(py), "-c", AGENT_ON_310, str(broker.port), str(fixtures / "tiny_mlp.tflite"),
                               str(fixtures / "tiny_mlp.onnx")], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["python"].startswith("3.10.") and report["online"], report
    litert, ort = report["outputs"]["litert"], report["outputs"]["onnxruntime"]
    assert len(litert[0]) == len(ort[0]) and max(abs(a - b) for a, b in zip(litert[0], ort[0])) < 1e-4
