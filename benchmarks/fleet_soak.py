"""Fleet soak: N simulated devices against one coordinator process on a real Mosquitto.

    nice -n 5 .venv/bin/python benchmarks/fleet_soak.py --devices 10000 --duration 600

Three processes besides this one: Mosquitto, the coordinator (``--coordinator-worker``:
the full CloudStack — ingest, registry, fleet graph on disk with its memory copy,
dashboard with /metrics, OTA) and the fleet
simulator (``cloud-sync simulate-fleet``). Every ``--sample-s`` this script records each
process's CPU and RSS, the load average of the box, and scrapes the coordinator's
/metrics (devices online, stored, queues, graph lag). Warm-up ends when every device is
online and the graph has caught up (then ``--settle`` more seconds); the figures are
taken from warm-up end to traffic end. After the run the store is compared with the
simulator's report: every result id it created must be stored exactly once.
Writes benchmarks/results/fleet_soak_<N>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PYTHON = sys.executable


def coordinator_worker(args) -> int:
    """Run the cloud stack; print its /metrics URL, run until SIGTERM."""
    from cloud_sync.cloud import CloudStack

    from cloud_sync.coordinator.gc_tuning import tune_gc_for_ingest

    stack = CloudStack(args.broker, args.data, http_port=0).start(wait_s=30)
    tune_gc_for_ingest()          # as `cloud-sync coordinator` does
    print(f"METRICS {stack.dashboard_url.rstrip('/')}/metrics", flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    while not stopping:
        time.sleep(0.2)
    stack.stop()
    return 0


def scrape(url: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
    except OSError:
        return {}
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            label = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[s.name + (f"{{{label}}}" if label else "")] = s.value
    return out


def _cpu(proc: psutil.Process) -> float:
    try:
        t = proc.cpu_times()
        return t.user + t.system
    except psutil.Error:
        return float("nan")


def _rss_mb(proc: psutil.Process) -> float:
    try:
        return proc.memory_info().rss / 2**20
    except psutil.Error:
        return float("nan")


def _du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20 if path.exists() else 0.0


def run(args) -> dict:
    from cloud_sync.mosquitto import MosquittoProcess

    work = Path(tempfile.mkdtemp(prefix="fleet-soak-"))
    (work / "mosquitto").mkdir()
    broker = MosquittoProcess(workdir=work / "mosquitto").start()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    coord = subprocess.Popen([PYTHON, __file__, "--coordinator-worker", "--broker", broker.url,
                              "--data", str(work / "coord")], stdout=subprocess.PIPE, text=True, env=env)
    line = coord.stdout.readline()
    if not line.startswith("METRICS "):
        raise RuntimeError(f"coordinator worker did not start: {line!r}")
    port = line.split()[1]          # the /metrics URL
    report_path = work / "sim.json"
    sim = subprocess.Popen([PYTHON, "-m", "cloud_sync.cli", "simulate-fleet", "--broker", broker.url,
                            "--devices", str(args.devices), "--duration", str(args.duration),
                            "--heartbeat", str(args.heartbeat), "--result-every", str(args.result_every),
                            "--connect-rate", str(args.connect_rate), "--seed", str(args.seed),
                            "--report", str(report_path), "--per-device"],
                           stdout=open(work / "sim.log", "w"), stderr=subprocess.STDOUT, env=env, cwd=REPO)
    procs = {"coordinator": psutil.Process(coord.pid), "broker": psutil.Process(broker.proc.pid),
             "simulator": psutil.Process(sim.pid)}
    samples, start = [], time.monotonic()
    last = {name: (_cpu(p), start) for name, p in procs.items()}
    warm_at = None
    aborted: list[float] = []
    traffic_end = start + args.duration   # the simulator's duration includes its ramp
    while sim.poll() is None:
        time.sleep(args.sample_s)
        now = time.monotonic()
        m = scrape(port)
        row = {"t": round(now - start, 1), "load1": os.getloadavg()[0],
               "online": m.get("cloud_sync_devices{state=online}"),
               "stored": m.get("cloud_sync_results_stored_total"),
               "graph_lag_s": m.get("cloud_sync_graph_lag_seconds"),
               "graph_pending": m.get("cloud_sync_graph_pending_changes"),
               "ingest_queue": m.get("cloud_sync_queue_depth{queue=ingest}"),
               "event_queue": m.get("cloud_sync_queue_depth{queue=events}"),
               "events_dropped": m.get("cloud_sync_events_dropped_total"),
               "rate": m.get("cloud_sync_ingest_rate_messages_per_second"),
               "graph_compactions": m.get("cloud_sync_graph_compactions_total"),
               "graph_compaction_s": m.get("cloud_sync_graph_compaction_seconds")}
        for name, proc in procs.items():
            cpu = _cpu(proc)
            row[f"{name}_cpu"] = round((cpu - last[name][0]) / (now - last[name][1]), 3)
            row[f"{name}_rss_mb"] = round(_rss_mb(proc), 1)
            last[name] = (cpu, now)
        row["in_traffic"] = now < traffic_end
        if warm_at is None and row["online"] == args.devices and (row["graph_lag_s"] or 0) < 5 \
                and (row["event_queue"] or 0) < 1000:
            warm_at = now + args.settle
            row["graph_mb"] = round(_du_mb(work / "coord" / "graph"), 1)
        row["warm"] = warm_at is not None and now >= warm_at
        samples.append(row)
        print(json.dumps(row), flush=True)
        if row["coordinator_rss_mb"] > args.max_rss_mb:   # a shared box: never take it all
            print(f"ABORT: coordinator RSS {row['coordinator_rss_mb']} MB > {args.max_rss_mb} MB", flush=True)
            sim.send_signal(signal.SIGINT)
            aborted.append(row["t"])
    # traffic over: the simulator drained its outboxes and disconnected; wait for the store
    drain_start = time.monotonic()
    report = json.loads(report_path.read_text())
    expected_n = report["totals"]["results"]
    queued = None
    while time.monotonic() < drain_start + args.drain_timeout:
        m = scrape(port)
        queued = m.get("cloud_sync_queue_depth{queue=ingest}")
        if (m.get("cloud_sync_results_stored_total") or 0) >= expected_n:
            break
        time.sleep(1)
    drain_s = time.monotonic() - drain_start
    graph_end_mb = _du_mb(work / "coord" / "graph")
    coord.send_signal(signal.SIGTERM)
    try:
        coord.wait(120)
    except subprocess.TimeoutExpired:   # still draining a backlog: the figures are taken anyway
        coord.kill()
        coord.wait(30)
    broker.stop()
    result = summarise(args, samples, report, work, graph_end_mb)
    result["aborted_at_s"] = aborted[0] if aborted else None
    result["drain_after_traffic_s"] = round(drain_s, 1)
    result["ingest_queue_when_stopped"] = queued
    return result


def stored_counts(db_path: Path) -> dict[str, int]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT msg_id, COUNT(*) FROM results GROUP BY msg_id"))
    finally:
        db.close()


def summarise(args, samples: list[dict], report: dict, work: Path, graph_end_mb: float) -> dict:
    from cloud_sync.simulate.fleet import FleetReport

    fleet = FleetReport(**report)
    expected = {msg_id for _, msg_id in fleet.expected_result_ids()}
    stored = stored_counts(work / "coord" / "coordinator.sqlite")
    window = [s for s in samples if s["warm"] and s["in_traffic"]]
    warm_reached = bool(window)
    if not window:   # never warm (not all devices online): report the whole traffic period instead
        window = [s for s in samples if s["in_traffic"] and s["t"] > args.devices / args.connect_rate]
    warm_rows = [s for s in samples if s.get("graph_mb") is not None]

    def stat(key, fn):
        values = [s[key] for s in window if s.get(key) is not None]
        return round(fn(values), 3) if values else None

    rss0 = window[0]["coordinator_rss_mb"] if window else None
    result = {
        "devices": args.devices, "duration_s": args.duration, "heartbeat_s": args.heartbeat,
        "result_every_s": args.result_every, "connect_rate": args.connect_rate, "seed": args.seed,
        "warm_up_reached": warm_reached,
        "measured_window_s": round(window[-1]["t"] - window[0]["t"], 1) if window else 0,
        "warm_up_s": window[0]["t"] if window and warm_reached else None,
        "results_created": len(expected), "results_stored": len(stored),
        "lost": len(expected - set(stored)), "foreign": len(set(stored) - expected),
        "duplicated": sum(1 for n in stored.values() if n > 1),
        "online_min_after_warmup": stat("online", min), "online_max": max((s["online"] or 0) for s in samples),
        "coordinator_cpu_mean_cores": stat("coordinator_cpu", lambda v: sum(v) / len(v)),
        "coordinator_cpu_max_cores": stat("coordinator_cpu", max),
        "coordinator_rss_at_warm_mb": rss0,
        "coordinator_rss_max_mb": stat("coordinator_rss_mb", max),
        "coordinator_rss_growth_mb": round(stat("coordinator_rss_mb", max) - rss0, 1) if rss0 else None,
        "graph_lag_max_s": stat("graph_lag_s", max), "graph_lag_mean_s": stat("graph_lag_s", lambda v: sum(v) / len(v)),
        "events_dropped": samples[-1].get("events_dropped") if samples else None,
        "broker_cpu_mean_cores": stat("broker_cpu", lambda v: sum(v) / len(v)),
        "broker_rss_max_mb": stat("broker_rss_mb", max),
        "simulator_cpu_mean_cores": stat("simulator_cpu", lambda v: sum(v) / len(v)),
        "simulator_rss_max_mb": stat("simulator_rss_mb", max),
        "load1_mean": stat("load1", lambda v: sum(v) / len(v)), "load1_max": stat("load1", max),
        "cpu_count": os.cpu_count(),
        "graph_mb_at_warm": warm_rows[0]["graph_mb"] if warm_rows else None, "graph_mb_end": round(graph_end_mb, 1),
        "graph_mb_max": max((s["graph_mb"] for s in warm_rows), default=None),
        "graph_compactions": samples[-1].get("graph_compactions") if samples else None,
        "graph_compaction_s_last": samples[-1].get("graph_compaction_s") if samples else None,
        "simulator_totals": report["totals"], "samples": samples,
    }
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--duration", type=float, default=120.0, help="seconds of traffic")
    p.add_argument("--heartbeat", type=float, default=1.0)
    p.add_argument("--result-every", type=float, default=10.0)
    p.add_argument("--connect-rate", type=float, default=200.0)
    p.add_argument("--settle", type=float, default=30.0, help="seconds after warm-up before measuring")
    p.add_argument("--sample-s", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--drain-timeout", type=float, default=600,
                   help="after traffic, how long to wait for the store to catch up (s)")
    p.add_argument("--max-rss-mb", type=float, default=4000, help="abort when the coordinator grows past this")
    p.add_argument("--out", type=Path)
    p.add_argument("--coordinator-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--broker", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.coordinator_worker:
        return coordinator_worker(args)
    result = run(args)
    out = args.out or REPO / "benchmarks" / "results" / f"fleet_soak_{args.devices}.json"
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k not in ("samples", "simulator_totals")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
