"""ED-ViT latency with one core per device, on a machine that has fewer cores than devices.

    .venv/bin/python benchmarks/edvit_latency.py PLAN_DIR [PLAN_DIR ...]   # plans from 'edvit split/place'

``benchmarks/edvit_bench.py`` calls :func:`measure_split_latency` for every N it builds;
run alone it measures saved MNIST plans and writes ``benchmarks/results/edvit_latency.json``.

Three measurements, kept apart in the results:

1. **compute, measured** — the full ViT and every sub-model, each in its own process
   pinned to one core (ONNX Runtime, 1 thread, as the device task runs them), timed one
   model at a time in interleaved rounds (``cloud_sync.edvit.pinned``);
2. **messaging + fusion, measured end to end with stand-ins** — real Mosquitto on a free
   loopback port, the coordinator, one ``edge-runtime agent`` process per device running
   the recorded stand-in (real outputs, compute replaced by a sleep of the device's time
   from 1), fusion MLP; the peer is the full ViT on one stand-in agent; split and peer
   requests alternate (``cloud_sync.edvit.critical_path``);
3. **critical path, composed** — slowest device's compute (1) + messaging + fusion (2),
   per request, against the full ViT served the same way and the full ViT run locally.

Plus a device SIGKILLed while it works on a request: the answer must be partial and
arrive by the deadline.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cloud_sync.edvit import critical_path as cp  # noqa: E402
from cloud_sync.edvit.client import DistributedClassifier  # noqa: E402
from cloud_sync.edvit.launch import wait_online  # noqa: E402
from cloud_sync.edvit.pinned import paired_ratio, slowest_device, time_pinned  # noqa: E402
from edge_runtime.edvit.plan import Plan, load_plan  # noqa: E402

PEER_DEVICE = "full-vit"                 # the full ViT on one agent (edvit_bench's shared-core peer)
STANDIN_PEER = "full-vit-standin"        # the same as a recorded stand-in; its own client id
DEFAULT_REQUESTS = {1: 100, 64: 40, 256: 16, 1024: 8}


def peer_plan(src: Plan, dst: Path, profile: str | None = None, device: str = PEER_DEVICE) -> Plan:
    """The full ViT as a one-'sub-model' plan, so one agent serves it exactly like a sub-model."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src.path("full.onnx"), dst / "full.onnx")
    manifest = {**src.manifest, "submodels": [{"index": 0, "classes": list(range(src.num_classes)),
                                               "onnx": "full.onnx"}],
                "placement": {"0": device}, "devices": {device: {"profile": profile}}}
    plan = Plan(dst, manifest)
    plan.save()
    return plan


def pinned_compute(plan: Plan, images: np.ndarray, batches, rounds: int, repeats: int, log) -> tuple[dict, dict]:
    """Measurement 1: (summary per batch, device -> {batch: seconds}) with the peer as a device.

    The seconds used downstream are CPU time of the pinned process (what the call cost its
    core): on a shared machine wall time adds whatever other sessions took from that core,
    and that share grows with the call's length (at load ~7 the full ViT's batch-64 wall
    median was 2.0x its CPU time, a sub-model's 1.04x), so separate wall medians are not
    comparable. Wall figures are kept beside them, with the per-round paired wall ratio.
    """
    models = {"full": plan.path(plan.manifest["full"]["onnx"])}
    models |= {f"sub{s['index']}": plan.path(s["onnx"]) for s in plan.submodels}
    hosts = {d: [f"sub{i}" for i in idx] for d, idx in plan.devices().items()}
    timing = time_pinned(models, plan.image_size, {b: images[:b] for b in batches}, rounds=rounds,
                         repeats=repeats, progress=log)
    summary = {"measured": "each model alone in its own process pinned to one core (ONNX Runtime, 1 thread), "
                           "one model at a time, interleaved rounds; median over rounds of each round's median; "
                           "*_ms = CPU time of the pinned process, wall_* = wall clock",
               "core": timing["core"], "threads": timing["threads"], "rounds": rounds, "repeats": repeats,
               "workers": timing["workers"]}
    device_s: dict[str, dict[int, float]] = {d: {} for d in [*hosts, STANDIN_PEER]}
    for b in batches:
        table, cpu = timing[f"batch{b}"]["median_s"], timing[f"batch{b}"]["cpu_median_s"]
        for device, names in hosts.items():
            device_s[device][b] = float(sum(cpu[n] for n in names))
        device_s[STANDIN_PEER][b] = cpu["full"]
        slowest, slowest_s, _ = slowest_device(timing, b, hosts, "cpu_")
        summary[f"batch{b}"] = {
            "full_ms": round(cpu["full"] * 1000, 4),
            "per_device_ms": {d: round(device_s[d][b] * 1000, 4) for d in hosts},
            "slowest_device": slowest, "slowest_ms": round(slowest_s * 1000, 4),
            "compute_ratio_vs_full": paired_ratio(timing, b, hosts, "cpu_"),
            "wall_full_ms": round(table["full"] * 1000, 4),
            "wall_slowest_ms": round(slowest_device(timing, b, hosts)[1] * 1000, 4),
            "wall_compute_ratio_vs_full": paired_ratio(timing, b, hosts),
            "wall_p95_ms": {n: round(v * 1000, 4) for n, v in timing[f"batch{b}"]["p95_s"].items()}}
    return summary, device_s


def mqtt_accuracy(classifier: DistributedClassifier, plan: Plan, data, batch: int) -> dict:
    """Fused accuracy over the stand-in MQTT path equals the in-process one (a silent-zero guard)."""
    usable = len(data.x_test) // batch * batch
    answers = [classifier.classify(data.x_test[i:i + batch]) for i in range(0, usable, batch)]
    classes = np.concatenate([a.classes for a in answers])
    expected = cp.in_process_classes(plan, data.x_test[:usable])
    return {"images": usable, "batch": batch, "accuracy": float((classes == data.y_test[:usable]).mean()),
            "in_process_accuracy": float((expected == data.y_test[:usable]).mean()),
            "same_classes_as_in_process": float((classes == expected).mean()),
            "partial_answers": int(sum(a.partial for a in answers))}


def drop_out(plan: Plan, recordings: dict, device_s: dict, batch: int, coordinator, broker_url: str,
             workdir: Path, deadline_s: float, data) -> dict:
    """A fresh stand-in fleet whose last device holds past the deadline and is SIGKILLed meanwhile."""
    victim = sorted(plan.devices())[-1]
    compute = {d: {batch: device_s[d][batch]} for d in plan.devices()}
    compute[victim] = {batch: 10 * deadline_s}
    agents = cp.start_standin_agents({d: recordings[d] for d in plan.devices()}, compute, broker_url,
                                     workdir, verbose=(victim,))
    try:
        wait_online(coordinator, agents, timeout_s=180)
        classifier = DistributedClassifier(plan, coordinator, deadline_s=deadline_s)
        out = cp.drop_out_mid_request(classifier, agents, victim, data.x_test[:batch])
    finally:
        cp.stop_agents(agents, coordinator)
    out["accuracy"] = float((out.pop("classes") == data.y_test[:batch]).mean())
    out["bounded_by_deadline"] = bool(out["partial"] and out["missing_devices"] == [victim]
                                      and out["latency_s"] <= deadline_s + 0.25)
    return out


def measure_split_latency(full_plan: Plan, plan: Plan, data, coordinator, broker_url: str, workdir: Path, *,
                          batches=(1, 64), requests: dict[int, int] | None = None, rounds: int = 15,
                          repeats: int = 5, deadline_s: float = 30.0, dropout_deadline_s: float = 1.0,
                          log=print) -> dict:
    """Measurements 1-3 and the drop-out for one placed plan (see the module docstring)."""
    requests = {**DEFAULT_REQUESTS, **(requests or {})}
    workdir.mkdir(parents=True, exist_ok=True)
    compute, device_s = pinned_compute(plan, data.x_test, batches, rounds, repeats, log)
    recordings = cp.record_plan_outputs(plan, data.x_test, workdir / "recordings")
    recordings |= cp.record_plan_outputs(peer_plan(full_plan, workdir / "peer", device=STANDIN_PEER), data.x_test,
                                         workdir / "recordings")
    agents = cp.start_standin_agents(recordings, device_s, broker_url, workdir / "agents")
    out = {"pinned_compute": compute}
    try:
        wait_online(coordinator, agents, timeout_s=180)
        classifier = DistributedClassifier(plan, coordinator, deadline_s=deadline_s)
        out["mqtt_accuracy"] = mqtt_accuracy(classifier, plan, data, max(batches))
        for b in batches:
            paths = cp.time_paths(classifier, coordinator, STANDIN_PEER, data.x_test, data.y_test, b, requests[b])
            composed = cp.compose(paths, compute[f"batch{b}"]["slowest_ms"] / 1000, compute[f"batch{b}"]["full_ms"] / 1000)
            composed["partial_answers"] = paths["partial_answers"]
            composed["requests"] = paths["requests"]
            composed["standin_wait"] = cp.ms(paths["split"]["compute_s"])
            out[f"batch{b}"] = composed
            log(f"  batch {b}: floor (one leg) {composed['critical_path_floor_one_leg']['p50_ms']:.3f} ms; "
                f"critical path {composed['critical_path']['p50_ms']:.3f} ms = slowest "
                f"{composed['slowest_device_compute_ms']:.3f} + messaging {composed['messaging']['p50_ms']:.3f} "
                f"+ fusion {composed['fusion']['p50_ms']:.3f}; full ViT served "
                f"{composed['full_vit_served']['p50_ms']:.3f}, local {composed['full_vit_local_ms']:.3f}; "
                f"ratio served {composed['ratio_vs_full_vit_served']['median']:.2f}, "
                f"local {composed['ratio_vs_full_vit_local']['median']:.2f}")
    finally:
        cp.stop_agents(agents, coordinator)
    out["dropout"] = drop_out(plan, recordings, device_s, 1, coordinator, broker_url, workdir / "dropout",
                              dropout_deadline_s, data)
    log(f"  drop-out: {out['dropout']['victim']} killed after {out['dropout']['killed_after_s']} s, answer "
        f"partial={out['dropout']['partial']} in {out['dropout']['latency_s']} s (deadline {dropout_deadline_s} s)")
    return out


def main(argv=None) -> int:
    from cloud_sync.coordinator import Coordinator
    from cloud_sync.edvit.data import DATASETS, load_dataset
    from cloud_sync.mosquitto import MosquittoProcess

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("plans", nargs="+", type=Path, help="placed MNIST plan folders (one per N)")
    parser.add_argument("--dataset", default="mnist", choices=DATASETS, help="the data set the plans were split on")
    parser.add_argument("--batches", default="1,64", help="batch sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=20, help="pinned-timing rounds per batch")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/edvit_latency.json")
    args = parser.parse_args(argv)
    batches = tuple(int(b) for b in args.batches.split(","))
    data = load_dataset(args.dataset)
    work = Path(tempfile.mkdtemp(prefix="edvit-latency-"))
    broker = MosquittoProcess(workdir=work / "mosquitto", extra_conf="set_tcp_nodelay true")
    (work / "mosquitto").mkdir()
    broker.start()
    coordinator = Coordinator(broker.url, work / "coordinator", persistent_session=False).start(wait_s=15)
    report = {"load_average_start": os.getloadavg(), "cpus": os.cpu_count(), "runs": []}
    try:
        for i, root in enumerate(args.plans):     # the same plan may be given twice: repeats
            plan = load_plan(root)
            started = time.strftime("%H:%M:%S")
            print(f"[{time.strftime('%H:%M:%S')}] {root}: N = {len(plan.submodels)}", flush=True)
            run = measure_split_latency(plan, plan, data, coordinator, broker.url, work / f"{i}-{root.name}",
                                        batches=batches, rounds=args.rounds)
            report["runs"].append({"plan": str(root), "n": len(plan.submodels), "started": started,
                                   "finished": time.strftime("%H:%M:%S"), "load_average_finished": os.getloadavg(),
                                   **run})
    finally:
        coordinator.stop()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    report["load_average_end"] = os.getloadavg()
    args.out.write_text(json.dumps(report, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
