"""The real MQTT path of a split, with each device's compute replaced by its measured time.

Why: the latency a split is for is ``slowest device's compute + messaging + fusion`` with
every device on its own core. Where cores are too few to run N devices at once, we take
the two parts apart:

* compute — each model timed alone in a process pinned to one core
  (:mod:`cloud_sync.edvit.pinned`);
* messaging and fusion — the real path (coordinator → Mosquitto → ``edge-runtime agent``
  processes → back → fusion MLP) with each agent running the recorded stand-in task
  (:mod:`edge_runtime.edvit.standin`), which answers with the real outputs after *sleeping*
  its device's measured compute time, so the agents hold no core while "computing".

The peer is the full ViT served the same way by one stand-in agent (sleeping the full
ViT's pinned time). Split and peer requests alternate on the same images so they see the
same load. :func:`compose` then adds the parts per request.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from cloud_sync.edvit.client import DistributedClassifier, LocalFleet
from cloud_sync.edvit.launch import AgentProcess
from edge_runtime.agent.task import TaskContext
from edge_runtime.edvit.plan import Plan
from edge_runtime.edvit.runner import SubmodelRunner
from edge_runtime.edvit.standin import TASK_KIND, write_recording
from edge_runtime.edvit.task import EdvitSubmodelTask, encode_images

HOLD_MARK = "answering in"     # what the stand-in logs (agent -v) when it starts a request


def record_plan_outputs(plan: Plan, images: np.ndarray, workdir: Path) -> dict[str, Path]:
    """Per device of the placement: an .npz of its sub-models' real outputs for ``images``."""
    workdir.mkdir(parents=True, exist_ok=True)
    recordings = {}
    for device, indices in plan.devices().items():
        outputs = {}
        for index in indices:
            features, logits, _ = SubmodelRunner(plan.path(plan.submodel(index)["onnx"]), plan.image_size).run(images)
            outputs[index] = (features, logits)
        recordings[device] = write_recording(workdir / f"{device}.npz", images, outputs)
    return recordings


def in_process_classes(plan: Plan, images: np.ndarray) -> np.ndarray:
    """Fused classes with the real tasks called in-process: what the MQTT path must reproduce."""
    fleet = LocalFleet({d: EdvitSubmodelTask("edvit", {"plan": str(plan.root)}, TaskContext(d, None, plan.root))
                        for d in plan.devices()})
    try:
        return DistributedClassifier(plan, fleet, deadline_s=60).classify(images).classes
    finally:
        fleet.close()


def start_standin_agents(recordings: dict[str, Path], compute_s: dict[str, dict[int, float]], broker_url: str,
                         workdir: Path, *, verbose: tuple[str, ...] = ()) -> dict[str, AgentProcess]:
    """One agent process per device running the stand-in with that device's measured times."""
    agents = {}
    for device, recording in recordings.items():
        params = {"recording": str(recording), "compute_s": {str(b): s for b, s in compute_s[device].items()}}
        agents[device] = AgentProcess(device, broker_url, None, workdir, task_kind=TASK_KIND, params=params,
                                      verbose=device in verbose).start()
    return agents


def ask_one(coordinator, device: str, images: np.ndarray, deadline_s: float) -> dict:
    """One device alone, same request encoding and broker: the full-ViT peer, or one leg of
    the split asked without the others (its messaging free of the other agents' load)."""
    start = time.perf_counter()
    reply = coordinator.request(device, "edvit", encode_images(images), timeout_s=deadline_s)
    argmax_start = time.perf_counter()
    classes = np.asarray(reply.body["results"][0]["logits"]).argmax(1)
    end = time.perf_counter()
    return {"latency_s": end - start, "compute_s": float(reply.body["compute_s"]),
            "fusion_s": end - argmax_start, "classes": classes}


def time_paths(classifier: DistributedClassifier, coordinator, peer_device: str, images: np.ndarray,
               labels: np.ndarray, batch: int, requests: int, warmup: int = 3) -> dict:
    """Split, peer and one split leg alone, in an order that rotates each round, on the same images.

    Per request: latency, the stand-ins' reported wait (compute), fusion, and
    ``messaging = latency - compute - fusion``; plus how many split answers were partial
    and the accuracy of the answered images (the stand-ins return real outputs, so it must
    match the in-process figure). The leg (one of the split's devices asked alone, in turn)
    shows what a device's round trip costs when the other agents do not share its cores.
    """
    keys = ("latency_s", "compute_s", "fusion_s")
    stores = {name: {k: [] for k in keys} for name in ("split", "peer_full_vit", "single_leg")}
    correct = {"split": 0, "peer_full_vit": 0}
    partial = 0
    span = max(1, len(images) - batch)
    devices = sorted(classifier.hosts)
    for r in range(-warmup, requests):
        start = (max(r, 0) * batch) % span
        x, y = images[start:start + batch], labels[start:start + batch]
        for which in np.roll(["split", "peer_full_vit", "single_leg"], r):
            if which == "split":
                result = classifier.classify(x)
                sample = {"latency_s": result.latency_s, "compute_s": result.compute_s,
                          "fusion_s": result.fusion_s, "classes": result.classes}
                partial += int(result.partial and r >= 0)
            elif which == "peer_full_vit":
                sample = ask_one(coordinator, peer_device, x, classifier.deadline_s)
            else:
                sample = ask_one(coordinator, devices[r % len(devices)], x, classifier.deadline_s)
                sample["fusion_s"] = 0.0
            if r < 0:
                continue
            for k in keys:
                stores[which][k].append(sample[k])
            if which in correct:
                correct[which] += int((sample["classes"] == y).sum())
    out = {"batch": batch, "requests": requests, "partial_answers": partial}
    for name, store in stores.items():
        arrays = {k: np.asarray(v) for k, v in store.items()}
        arrays["messaging_s"] = arrays["latency_s"] - arrays["compute_s"] - arrays["fusion_s"]
        out[name] = {k: v.tolist() for k, v in arrays.items()}
        if name in correct:
            out[name]["accuracy_answered"] = correct[name] / (requests * batch)
    return out


def ms(values) -> dict:
    values = np.asarray(values, dtype=float) * 1000
    return {"p50_ms": round(float(np.median(values)), 4), "p95_ms": round(float(np.percentile(values, 95)), 4)}


def compose(paths: dict, slowest_s: float, full_s: float) -> dict:
    """Critical path per request = slowest device's pinned compute + measured messaging + fusion.

    Compared per request pair with the peer composed the same way (full ViT's pinned
    compute + its messaging + argmax) and with the full ViT run where the image is
    (pinned compute only, no network).
    """
    split, peer, leg = paths["split"], paths["peer_full_vit"], paths["single_leg"]
    critical = slowest_s + np.asarray(split["messaging_s"]) + np.asarray(split["fusion_s"])
    served = full_s + np.asarray(peer["messaging_s"]) + np.asarray(peer["fusion_s"])
    pair = critical / served
    # if the fan-out cost nothing beyond one device's round trip: no split can beat this
    floor = slowest_s + np.asarray(leg["messaging_s"]) + np.asarray(split["fusion_s"])
    return {
        "composed": True,
        "critical_path": ms(critical), "slowest_device_compute_ms": round(slowest_s * 1000, 4),
        "messaging": ms(split["messaging_s"]), "fusion": ms(split["fusion_s"]),
        "single_leg_messaging": ms(leg["messaging_s"]),
        "critical_path_floor_one_leg": ms(floor),
        "ratio_floor_vs_full_vit_served": {"median": float(np.median(floor / served))},
        "full_vit_served": ms(served), "full_vit_messaging": ms(peer["messaging_s"]),
        "full_vit_local_ms": round(full_s * 1000, 4),
        "ratio_vs_full_vit_served": {"median": float(np.median(pair)), "worst": float(pair.max())},
        "ratio_vs_full_vit_local": {"median": float(np.median(critical) / full_s),
                                    "worst": float(critical.max() / full_s)},
        "measured_with_standins_end_to_end": {"split": ms(split["latency_s"]), "peer": ms(peer["latency_s"]),
                                              "single_leg": ms(leg["latency_s"])},
    }


def drop_out_mid_request(classifier: DistributedClassifier, agents: dict[str, AgentProcess], victim: str,
                         images: np.ndarray, hold_timeout_s: float = 60) -> dict:
    """SIGKILL ``victim`` while it is working on a request (its stand-in logged that it started,
    with -v, and holds for longer than the deadline); the answer must come back flagged
    partial, naming the victim, no later than the deadline plus the fusion step."""
    box: dict = {}
    worker = threading.Thread(target=lambda: box.setdefault("result", classifier.classify(images)), daemon=True)
    start = time.perf_counter()
    worker.start()
    from edge_runtime.waiting import wait_until

    wait_until(lambda: agents[victim].log_contains(HOLD_MARK), hold_timeout_s,
               what=f"{victim} to start the request (log {agents[victim].log_path})")
    killed_at = time.perf_counter() - start
    agents[victim].kill()
    worker.join(classifier.deadline_s + 30)
    if "result" not in box:
        raise TimeoutError(f"classify did not return within deadline {classifier.deadline_s} s + 30 s")
    result = box["result"]
    return {"victim": victim, "deadline_s": classifier.deadline_s, "killed_after_s": round(killed_at, 4),
            "latency_s": round(result.latency_s, 4), "partial": result.partial,
            "missing_devices": result.missing_devices, "missing_submodels": result.missing_submodels,
            "errors": result.errors, "classes": result.classes}


def stop_agents(agents: dict[str, AgentProcess], coordinator=None, timeout_s: float = 30) -> None:
    """Stop the agents; with ``coordinator``, also wait until it has seen each one go offline, so
    a fleet started next under the same device ids is not taken for online before it is."""
    from edge_runtime.waiting import wait_until

    for agent in agents.values():
        agent.stop()
    for device in agents if coordinator is not None else ():
        wait_until(lambda: not (coordinator.device(device) or {}).get("online"), timeout_s,
                   what=f"the coordinator to see {device} offline")
