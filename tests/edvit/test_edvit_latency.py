"""One core per device: pinned timing, the recorded stand-in, composing the critical path,
and a device SIGKILLed mid-request over a real Mosquitto (partial answer by the deadline)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cloud_sync.coordinator import Coordinator
from cloud_sync.edvit import critical_path as cp
from cloud_sync.edvit.client import DistributedClassifier, LocalFleet
from cloud_sync.edvit.launch import wait_online
from cloud_sync.edvit.pinned import paired_ratio, slowest_device, time_pinned
from edge_runtime.agent.task import TaskContext
from edge_runtime.edvit.standin import RecordedSubmodelTask, image_fingerprints

REPO = Path(__file__).resolve().parents[2]


def standin(recording, compute_s, device="pi-a"):
    return RecordedSubmodelTask("edvit", {"recording": str(recording), "compute_s": compute_s},
                                TaskContext(device, None, recording.parent))


def test_pinned_workers_run_on_one_core_and_time_what_they_run(digits_plan, digits):
    core = max(os.sched_getaffinity(0))
    models = {"full": digits_plan.path("full.onnx"), "sub0": digits_plan.path(digits_plan.submodel(0)["onnx"])}
    timing = time_pinned(models, 8, {1: digits.x_test[:1], 256: digits.x_test[:256]}, rounds=3, repeats=3)
    assert all(info["affinity"] == [core] and info["threads"] == 1 for info in timing["workers"].values())
    for name in models:   # 256 images cost more than one, on either clock
        assert timing["batch256"]["cpu_median_s"][name] > 3 * timing["batch1"]["cpu_median_s"][name] > 0
        assert timing["batch256"]["median_s"][name] > 3 * timing["batch1"]["median_s"][name]
    ratio = paired_ratio(timing, 256, {"dev": ["sub0"]}, "cpu_")
    assert 0 < ratio["best"] <= ratio["median"] <= ratio["worst"] < 1.5


def test_slowest_device_sums_the_models_it_hosts_and_ratios_pair_rounds():
    timing = {"reference": "full", "batch4": {"round_medians_s": {
        "full": [2.0, 4.0, 2.0], "a": [0.5, 1.0, 0.5], "b": [0.7, 1.4, 0.7], "c": [0.6, 1.2, 0.6]}}}
    hosts = {"one": ["b"], "two": ["a", "c"]}          # "two" runs a then c: 1.1 per round
    device, median, per_round = slowest_device(timing, 4, hosts)
    assert device == "two" and median == pytest.approx(1.1) and per_round == pytest.approx([1.1, 2.2, 1.1])
    assert paired_ratio(timing, 4, hosts) == pytest.approx({"median": 0.55, "worst": 0.55, "best": 0.55})


def test_compose_adds_slowest_compute_messaging_and_fusion_per_request():
    paths = {"split": {"messaging_s": [0.002, 0.004], "fusion_s": [0.001, 0.001], "latency_s": [0.01, 0.02]},
             "peer_full_vit": {"messaging_s": [0.001, 0.003], "fusion_s": [0.0, 0.0], "latency_s": [0.01, 0.02]},
             "single_leg": {"messaging_s": [0.001, 0.001], "latency_s": [0.01, 0.01]}}
    out = cp.compose(paths, slowest_s=0.003, full_s=0.006)
    assert out["critical_path"]["p50_ms"] == pytest.approx(7.0)          # 3 + (2, 4) + 1 -> (6, 8)
    assert out["full_vit_served"]["p50_ms"] == pytest.approx(8.0)         # 6 + (1, 3) -> (7, 9)
    assert out["ratio_vs_full_vit_served"]["median"] == pytest.approx((6 / 7 + 8 / 9) / 2)
    assert out["ratio_vs_full_vit_local"]["median"] == pytest.approx(7 / 6)
    assert out["critical_path_floor_one_leg"]["p50_ms"] == pytest.approx(5.0)
    assert out["composed"] is True


def test_standin_answers_with_the_recorded_outputs_and_refuses_what_it_cannot(digits_plan, digits, tmp_path):
    images = digits.x_test
    assert len(np.unique(image_fingerprints(images))) == len(np.unique(images.reshape(len(images), -1), axis=0))
    recordings = cp.record_plan_outputs(digits_plan, images, tmp_path)
    tasks = {d: standin(recordings[d], {"7": 0.0, str(len(images)): 0.0}, d) for d in digits_plan.devices()}
    fleet = LocalFleet(tasks)
    replayed = DistributedClassifier(digits_plan, fleet).classify(images)
    fleet.close()
    real = cp.in_process_classes(digits_plan, images)
    assert not replayed.partial and np.array_equal(replayed.classes, real)
    task = next(iter(tasks.values()))
    reply = task.handle({"x": (images[:7] * 255).round().astype(np.uint8)})   # uint8 on the wire
    assert reply["results"][0]["features"].shape[0] == 7
    with pytest.raises(ValueError, match="no measured compute time for batch 3"):
        task.handle({"x": images[:3]})
    with pytest.raises(ValueError, match="were not recorded"):
        task.handle({"x": np.clip(images[:7] + 0.5, 0, 1)})
    with pytest.raises(ValueError, match="outside"):
        standin(next(iter(recordings.values())), {"1": -1})


def test_device_killed_mid_request_gives_a_partial_answer_by_the_deadline(mosquitto, digits_plan, digits,
                                                                           tmp_path):
    batch, deadline = 5, 1.5
    recordings = cp.record_plan_outputs(digits_plan, digits.x_test, tmp_path / "rec")
    victim = sorted(digits_plan.devices())[0]
    compute = {d: {batch: 0.001} for d in recordings}
    compute[victim] = {batch: 30.0}          # still "computing" long after the deadline
    coordinator = Coordinator(mosquitto.url, tmp_path / "coord").start(wait_s=15)
    agents = cp.start_standin_agents(recordings, compute, mosquitto.url, tmp_path / "agents", verbose=(victim,))
    try:
        wait_online(coordinator, agents)
        classifier = DistributedClassifier(digits_plan, coordinator, deadline_s=deadline)
        out = cp.drop_out_mid_request(classifier, agents, victim, digits.x_test[:batch])
    finally:
        cp.stop_agents(agents)
        coordinator.stop()
    assert out["killed_after_s"] < deadline, "the kill must land while the request is in flight"
    assert out["partial"] and out["missing_devices"] == [victim]
    assert out["missing_submodels"] == digits_plan.devices()[victim]
    assert deadline <= out["latency_s"] <= deadline + 0.5
    assert len(out["classes"]) == batch


@pytest.mark.slow
def test_latency_benchmark_script_measures_saved_plans(digits_plan, tmp_path):
    """The stand-alone script end to end on the digits plan (writes JSON with every part)."""
    out = tmp_path / "latency.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks/edvit_latency.py"), str(digits_plan.root),
                           "--dataset", "digits", "--batches", "1,64", "--rounds", "3", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json
    run = json.loads(out.read_text())["runs"][0]
    assert run["mqtt_accuracy"]["same_classes_as_in_process"] == 1.0
    for batch in (1, 64):
        entry = run[f"batch{batch}"]
        assert entry["partial_answers"] == 0 and entry["critical_path"]["p50_ms"] > 0
        assert entry["messaging"]["p50_ms"] > 0 and entry["full_vit_served"]["p50_ms"] > 0
    assert run["dropout"]["bounded_by_deadline"]
