"""CPU per stored message with 1, 2 and 3 coordinator replicas on one PostgreSQL.

    nice -n 5 .venv/bin/python benchmarks/replica_cpu.py --devices 300 --duration 40

Wall throughput is capped by the two cores of this box, so the figure that says how replicas
scale is CPU per message: for each replica count a fresh database, N replica processes
(``cloud_sync.coordinator.replica``) on one shared subscription, and the same simulated fleet
(``cloud-sync simulate-fleet``: heartbeats and results). Measured over the traffic window:
CPU seconds of all replicas, and of the PostgreSQL server processes, divided by messages the
replicas received and by results stored. The peer in the same run is the single replica:
ratios are N replicas / 1 replica. Writes benchmarks/results/replica_cpu.json.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _cpu(procs) -> float:
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def _postgres_procs(pg) -> list[psutil.Process]:
    data = str(pg.data)
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.info["name"] == "postgres":
                found.append(proc)
        except psutil.Error:
            pass
    main = [p for p in found if data in " ".join(p.info["cmdline"] or [])]
    if not main:
        return found
    return [main[0], *main[0].children(recursive=True)]


def one_run(n: int, pg, broker, args, work: Path) -> dict:
    import psycopg
    db = f"bench{n}"
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db}")
        conn.execute(f"CREATE DATABASE {db}")
    url = pg.url.rsplit("/", 1)[0] + f"/{db}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    replicas = []
    for k in range(n):
        proc = subprocess.Popen([sys.executable, "-m", "cloud_sync.coordinator.replica", "--broker", broker.url,
                                 "--store", url, "--replica-id", f"n{n}-r{k}", "--share-group", f"g{n}",
                                 "--data", str(work / f"n{n}-r{k}"), "--stats-s", "1"],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        while not proc.stdout.readline().startswith("READY"):
            if proc.poll() is not None:
                raise RuntimeError(f"replica {k} exited")
        replicas.append(proc)
    sim = subprocess.Popen([sys.executable, "-m", "cloud_sync.cli", "simulate-fleet", "--broker", broker.url,
                            "--devices", str(args.devices), "--duration", str(args.duration),
                            "--heartbeat", "1", "--result-every", str(args.result_every),
                            "--connect-rate", "300", "--seed", str(args.seed), "--prefix", f"n{n}"],
                           cwd=REPO, stdout=subprocess.DEVNULL, env=env)
    time.sleep(args.devices / 300 + 5)         # ramp: every device connected and sending
    rprocs = [psutil.Process(p.pid) for p in replicas]
    pprocs = _postgres_procs(pg)
    with psycopg.connect(url) as conn:
        stored0 = conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    c0, p0, t0, load0 = _cpu(rprocs), _cpu(pprocs), time.monotonic(), os.getloadavg()[0]
    time.sleep(args.window)
    c1, p1, t1, load1 = _cpu(rprocs), _cpu(pprocs), time.monotonic(), os.getloadavg()[0]
    with psycopg.connect(url) as conn:
        stored1 = conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    sim.wait()
    for proc in replicas:
        proc.send_signal(signal.SIGTERM)
    for proc in replicas:
        proc.wait(30)
    stored = stored1 - stored0
    messages = stored * (1 + args.result_every)   # one heartbeat a second per device beside each result
    return {"replicas": n, "window_s": round(t1 - t0, 1), "results_stored": stored,
            "replica_cpu_cores": round((c1 - c0) / (t1 - t0), 3),
            "postgres_cpu_cores": round((p1 - p0) / (t1 - t0), 3),
            "replica_cpu_us_per_result": round((c1 - c0) / max(stored, 1) * 1e6, 1),
            "replica_cpu_us_per_message": round((c1 - c0) / max(messages, 1) * 1e6, 1),
            "postgres_cpu_us_per_result": round((p1 - p0) / max(stored, 1) * 1e6, 1),
            "load1": [round(load0, 2), round(load1, 2)]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", type=int, default=300)
    p.add_argument("--duration", type=float, default=45.0)
    p.add_argument("--window", type=float, default=25.0)
    p.add_argument("--result-every", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "replica_cpu.json")
    args = p.parse_args(argv)
    from cloud_sync.mosquitto import MosquittoProcess
    from cloud_sync.postgres_server import PostgresServer

    work = Path(tempfile.mkdtemp(prefix="replica-cpu-"))
    (work / "mosquitto").mkdir()
    broker = MosquittoProcess(workdir=work / "mosquitto").start()
    runs = []
    with PostgresServer(work / "pg") as pg:
        for n in (1, 2, 3):
            runs.append(one_run(n, pg, broker, args, work))
            print(json.dumps(runs[-1]), flush=True)
    broker.stop()
    base = runs[0]["replica_cpu_us_per_message"]
    for run in runs:
        run["ratio_vs_one_replica"] = round(run["replica_cpu_us_per_message"] / base, 2) if base else None
    result = {"devices": args.devices, "heartbeat_s": 1.0, "result_every_s": args.result_every,
              "cpu_count": os.cpu_count(), "runs": runs}
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
