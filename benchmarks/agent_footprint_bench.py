"""What the device agent costs a small board, against a bare paho client doing the same job.

    .venv/bin/python benchmarks/agent_footprint_bench.py [--runs 12] [--fleet 100] [--idle-s 20]

Installs edge-runtime the way a device does (a wheel of this checkout into new venvs, versions
from requirements/dev.lock): the base install alone, and base + ``[litert]``. Then, against a real
Mosquitto on loopback:

* size of what the base install adds to site-packages (pip/setuptools, which every venv brings,
  reported beside it);
* RSS of an idle agent (no tasks) ``--idle-s`` seconds after start, and of the peer: a bare
  paho client making the same connection (last will, retained ``state``), in the same venv;
* start → retained online state seen by a subscriber, ``--runs`` times, agent and peer interleaved;
* RSS of an agent running a LiteRT model task (a real keyword-spotting model when the shared
  data is there, else the project's fixture);
* ``--fleet`` agents started together until all are online (and as many peers).

Results: benchmarks/results/agent_footprint_bench.json (goals and ratios included).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from cloud_sync.mosquitto import MosquittoProcess
from edge_runtime.bundle.builder import build_project_wheel
from edge_runtime.data_paths import shared_data_dir

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "agent_footprint_bench.json"
LOCK = ROOT / "requirements" / "dev.lock"
GOALS = {"base_install_mb": 40, "idle_rss_mb": 30, "start_median_s": 0.5, "start_max_s": 1.0,
         "litert_task_rss_mb": 60, "fleet_online_s": 15}
VENV_TOOLING = ("pip", "setuptools", "pkg_resources", "_distutils_hack", "distutils-precedence.pth")
PEER = r"""
import json, sys, time
import paho.mqtt.client as mqtt
dev, port = sys.argv[1], int(sys.argv[2])
topic = f"edge/v1/default/{dev}/state"
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"peer-{dev}")
c.will_set(topic, json.dumps({"online": False}), qos=1, retain=True)
c.on_connect = lambda cl, u, f, rc, p=None: cl.publish(
    topic, json.dumps({"online": True, "ts": time.time()}), qos=1, retain=True)
c.connect("127.0.0.1", port, keepalive=30)
c.loop_forever()
"""


def say(text: str) -> None:
    print(f"[footprint] {text}", file=sys.stderr, flush=True)


def make_venv(path: Path, wheel: Path, extras: str = "") -> Path:
    """A new venv with edge-runtime from ``wheel`` (+ extras) at the lock's versions."""
    if not (path / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    spec = f"edge-runtime[{extras}] @ {wheel.as_uri()}" if extras else str(wheel)
    subprocess.run([str(path / "bin" / "python"), "-m", "pip", "install", "-q", "--force-reinstall",
                    "-c", str(LOCK), spec], check=True)
    return path / "bin" / "python"


def site_packages_mb(venv: Path) -> dict[str, float]:
    site = next((venv / "lib").glob("python3*/site-packages"))
    sizes: dict[str, int] = {}
    for entry in site.iterdir():
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        sizes[entry.name] = sum(p.stat().st_size for p in files)
    tooling = sum(v for k, v in sizes.items() if k.split("-")[0] in VENV_TOOLING or k in VENV_TOOLING)
    total = sum(sizes.values())
    top = sorted(((k, round(v / 2**20, 1)) for k, v in sizes.items()), key=lambda kv: -kv[1])[:8]
    return {"added_by_install_mb": round((total - tooling) / 2**20, 1), "venv_tooling_mb": round(tooling / 2**20, 1),
            "site_packages_total_mb": round(total / 2**20, 1), "largest_mb": dict(top)}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class OnlineWatcher:
    """Subscribes to every retained state; records when each device was first seen online."""

    def __init__(self, port: int):
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"watch-{os.getpid()}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("edge/v1/default/+/state", qos=1)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        body = body.get("body", body)
        if body.get("online") is True:
            device = message.topic.split("/")[3]
            with self.cond:
                self.seen.setdefault(device, time.perf_counter())
                self.cond.notify_all()

    def wait(self, devices: list[str], timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        with self.cond:
            while not all(d in self.seen for d in devices):
                left = deadline - time.perf_counter()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def agent_cmd(venv_python: Path, device: str, port: int, state: Path, config: Path | None = None) -> list[str]:
    cmd = [str(venv_python.parent / "edge-runtime"), "agent", "--broker", f"mqtt://127.0.0.1:{port}",
           "--device-id", device, "--state-dir", str(state / device), "--profile", "raspberry-pi-4b-4gb",
           "--no-wait-for-coordinator"]
    return cmd + (["--config", str(config)] if config else [])


def peer_cmd(venv_python: Path, device: str, port: int) -> list[str]:
    return [str(venv_python), "-c", PEER, device, str(port)]


def spawn(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def stop_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def settled_rss(cmd: list[str], device: str, watcher: OnlineWatcher, idle_s: float) -> float:
    proc = spawn(cmd)
    try:
        if not watcher.wait([device], 30):
            raise RuntimeError(f"{device} never came online: {' '.join(cmd)}")
        time.sleep(idle_s)                       # settle: what a board holds while idle
        return round(rss_mb(proc.pid), 1)
    finally:
        stop_all([proc])


def start_times(make_cmd, prefix: str, watcher: OnlineWatcher, runs: int) -> list[float]:
    times = []
    for i in range(runs):
        device = f"{prefix}-{i}-{os.getpid()}"
        start = time.perf_counter()
        proc = spawn(make_cmd(device))
        ok = watcher.wait([device], 30)
        stop_all([proc])
        if not ok:
            raise RuntimeError(f"{device} never came online")
        times.append(round(watcher.seen[device] - start, 3))
    return times


def fleet_online(make_cmd, prefix: str, n: int, watcher: OnlineWatcher) -> dict:
    devices = [f"{prefix}-{i}-{os.getpid()}" for i in range(n)]
    start = time.perf_counter()
    procs = [spawn(make_cmd(d)) for d in devices]
    try:
        ok = watcher.wait(devices, 180)
        elapsed = max(watcher.seen.get(d, float("inf")) for d in devices) - start
        rss = sum(rss_mb(p.pid) for p in procs if p.poll() is None)
        return {"devices": n, "all_online": ok, "online": sum(d in watcher.seen for d in devices),
                "all_online_s": round(elapsed, 2) if ok else None, "rss_sum_mb": round(rss, 1)}
    finally:
        stop_all(procs)


def model_task_config(work: Path) -> tuple[Path, str]:
    data = shared_data_dir()
    model = data / "tflite_models" / "ARM_DS_CNN_Small_.tflite" if data else None
    if model is None or not model.exists():
        model = ROOT / "edge_runtime" / "models" / "fixtures" / "tiny_mlp.tflite"
    config = work / "litert-task.yaml"
    config.write_text(json.dumps({"tasks": [{"kind": "model", "name": "kws", "interval_s": 0.2,
                                              "params": {"model": str(model), "backend": "litert"}}]}))
    return config, model.name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=12, help="start-latency runs (default 12)")
    ap.add_argument("--fleet", type=int, default=100, help="agents started together (default 100)")
    ap.add_argument("--idle-s", type=float, default=20.0, help="seconds after start before RSS is read")
    ap.add_argument("--work", type=Path, help="folder for the venvs (default: a temp dir, removed)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="footprint-")
    work = args.work or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    say("building the edge-runtime wheel and two venvs (base, base+[litert])")
    wheel = build_project_wheel(work / "wheel")
    lean = make_venv(work / "venv-base", wheel)
    litert = make_venv(work / "venv-litert", wheel, "litert")
    size = site_packages_mb(work / "venv-base")
    state = work / "state"
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "loadavg_start": os.getloadavg()}, "base_install": size}
    with MosquittoProcess(workdir=Path(tempfile.mkdtemp(prefix="footprint-mq-"))) as broker:
        watcher = OnlineWatcher(broker.port)
        try:
            say(f"idle RSS after {args.idle_s:.0f} s (agent, then bare paho)")
            result["idle_rss_mb"] = {
                "agent": settled_rss(agent_cmd(lean, "idle-agent", broker.port, state), "idle-agent",
                                     watcher, args.idle_s),
                "bare_paho": settled_rss(peer_cmd(lean, "idle-peer", broker.port), "idle-peer", watcher,
                                         args.idle_s)}
            say(f"start -> retained online state, {args.runs} runs each")
            agent_t, peer_t = [], []
            for i in range(args.runs):          # interleaved: both see the same load
                agent_t += start_times(lambda d: agent_cmd(lean, d, broker.port, state), f"st{i}", watcher, 1)
                peer_t += start_times(lambda d: peer_cmd(lean, d, broker.port), f"sp{i}", watcher, 1)
            result["start_to_online_s"] = {
                "agent": {"median": statistics.median(agent_t), "max": max(agent_t), "runs": agent_t},
                "bare_paho": {"median": statistics.median(peer_t), "max": max(peer_t), "runs": peer_t}}
            config, model_name = model_task_config(work)
            say(f"agent running a LiteRT model task ({model_name})")
            result["litert_task"] = {"model": model_name, "rss_mb": settled_rss(
                agent_cmd(litert, "kws-agent", broker.port, state, config), "kws-agent", watcher, args.idle_s)}
            say(f"{args.fleet} agents at once, then {args.fleet} bare paho clients")
            result["fleet"] = {"agent": fleet_online(lambda d: agent_cmd(lean, d, broker.port, state),
                                                     "fa", args.fleet, watcher),
                               "bare_paho": fleet_online(lambda d: peer_cmd(lean, d, broker.port),
                                                         "fp", args.fleet, watcher)}
        finally:
            watcher.close()
    idle, start, fleet = result["idle_rss_mb"], result["start_to_online_s"], result["fleet"]
    result["ratios_vs_bare_paho"] = {
        "idle_rss": round(idle["agent"] / idle["bare_paho"], 2),
        "start_median": round(start["agent"]["median"] / start["bare_paho"]["median"], 2),
        "fleet_online": (round(fleet["agent"]["all_online_s"] / fleet["bare_paho"]["all_online_s"], 2)
                         if fleet["agent"]["all_online_s"] and fleet["bare_paho"]["all_online_s"] else None)}
    measured = {"base_install_mb": size["added_by_install_mb"], "idle_rss_mb": idle["agent"],
                "start_median_s": start["agent"]["median"], "start_max_s": start["agent"]["max"],
                "litert_task_rss_mb": result["litert_task"]["rss_mb"],
                "fleet_online_s": fleet["agent"]["all_online_s"] or float("inf")}
    result["goals"] = {k: {"goal": GOALS[k], "measured": v, "met": v <= GOALS[k]} for k, v in measured.items()}
    result["machine"]["loadavg_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for key, goal in result["goals"].items():
        say(f"{key:20s} {goal['measured']!s:>8} (goal <= {goal['goal']}) {'met' if goal['met'] else 'NOT met'}")
    say(f"written {args.out}")
    if tmp:
        tmp.cleanup()
    return 0 if all(g["met"] for g in result["goals"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
