"""The device's OTA state machine on real files, real ONNX models and a real HTTP artifact server."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloud_sync.ota.fileserver import ArtifactServer
from cloud_sync.ota.registry import ModelRegistry
from cloud_sync.ota.signing import FleetKey
from edge_runtime.ota.deployer import Deployer, DeployRequest
from edge_runtime.ota.health import HealthPolicy
from edge_runtime.ota.manifest import ModelManifest
from edge_runtime.ota.slot import TaskSlot
from edge_runtime.ota.store import OtaStore

X = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
FAST_GATE = HealthPolicy(window_s=2.0, min_requests=3, probe_interval_s=0.1, max_error_rate=0.1)


@pytest.fixture
def fleet(tmp_path):
    registry = ModelRegistry(tmp_path / "cloud")
    server = ArtifactServer(registry.root).start()
    yield registry, server
    server.stop()


@pytest.fixture
def device(tmp_path, fleet, serving_task):
    registry, _ = fleet
    reports: list[dict] = []
    deployer = Deployer(OtaStore(tmp_path / "state"), [registry.key.public_key], reports.append)
    return deployer, TaskSlot(serving_task), reports


def _request(fleet, manifest: ModelManifest, job: str, health: HealthPolicy = FAST_GATE, **kw) -> DeployRequest:
    _, server = fleet
    return DeployRequest(job=job, manifest=manifest, url=server.url_for(manifest), task="kws", health=health, **kw)


def _assert_serves(task, model_file, onnx_models) -> None:
    reply = task.handle({"input": X.tolist()})
    np.testing.assert_allclose(reply["output"], onnx_models.reference(model_file, X), rtol=1e-5)


def test_good_model_becomes_active(onnx_models, tmp_path, fleet, device, serving_task):
    registry, _ = fleet
    deployer, slot, reports = device
    manifest = registry.add(onnx_models.make(tmp_path / "kws.onnx", seed=2), name="kws")
    record = deployer.run(_request(fleet, manifest, "job-good"), slot)
    assert record["state"] == "healthy", record["detail"]
    assert [r["state"] for r in reports if "progress" not in r] == [
        "queued", "downloading", "verifying", "activating", "health_gate", "healthy"]
    _assert_serves(serving_task, tmp_path / "kws.onnx", onnx_models)
    assert deployer.store.active()["kws"]["current"]["ref"] == "kws:v1"
    assert record["health"]["requests"] >= FAST_GATE.min_requests


@pytest.mark.parametrize("tamper", ["flipped_byte", "wrong_signature", "no_signature"])
def test_tampered_models_are_rejected_and_old_model_keeps_answering(onnx_models, tmp_path, fleet, device, serving_task, tamper):
    registry, _ = fleet
    deployer, slot, _ = device
    manifest = registry.add(onnx_models.make(tmp_path / "kws.onnx", seed=2), name="kws")
    if tamper == "flipped_byte":
        artifact = registry.artifact(manifest)
        data = bytearray(artifact.read_bytes())
        data[len(data) // 2] ^= 0x01
        artifact.write_bytes(bytes(data))
    elif tamper == "wrong_signature":
        FleetKey(Ed25519PrivateKey.generate()).sign(manifest)       # an attacker's key
    else:
        manifest.signature = ""
    record = deployer.run(_request(fleet, manifest, f"job-{tamper}"), slot)
    assert record["state"] == "rejected"
    expected = {"flipped_byte": "sha256", "wrong_signature": "signature does not match",
                "no_signature": "not signed"}[tamper]
    assert expected in record["detail"]
    _assert_serves(serving_task, tmp_path / "initial.onnx", onnx_models)
    assert not deployer.store.part_path(f"job-{tamper}").exists()


def test_smoke_run_failure_rolls_back_before_swapping(onnx_models, tmp_path, fleet, device, serving_task):
    registry, _ = fleet
    deployer, slot, reports = device
    manifest = registry.add(onnx_models.make(tmp_path / "kws.onnx", seed=2, nan=True), name="kws")
    start = time.monotonic()
    record = deployer.run(_request(fleet, manifest, "job-nan"), slot)
    assert record["state"] == "rolled_back" and "NaN" in record["detail"], record["detail"]
    assert time.monotonic() - start < 30
    assert "health_gate" not in [r["state"] for r in reports]      # never served
    _assert_serves(serving_task, tmp_path / "initial.onnx", onnx_models)


def test_health_gate_failure_rolls_back_within_30_s(onnx_models, tmp_path, fleet, device, serving_task):
    """The new model passes its smoke run (batch 1) but real clients send batch 2: errors."""
    registry, _ = fleet
    deployer, slot, _ = device
    manifest = registry.add(onnx_models.make(tmp_path / "kws.onnx", seed=2, fixed_batch=True), name="kws")
    gate = HealthPolicy(window_s=20.0, min_requests=5, probe_interval_s=0.2, max_error_rate=0.2)
    stop_traffic = threading.Event()
    errors_seen = []

    def clients():
        while not stop_traffic.wait(0.02):
            reply = serving_task.handle({"input": X.tolist()})
            if "error" in reply:
                errors_seen.append(reply["error"])

    traffic = threading.Thread(target=clients, daemon=True)
    traffic.start()
    start = time.monotonic()
    try:
        record = deployer.run(_request(fleet, manifest, "job-gate", health=gate), slot)
    finally:
        stop_traffic.set()
        traffic.join()
    elapsed = time.monotonic() - start
    assert record["state"] == "rolled_back" and "error rate" in record["detail"], record["detail"]
    assert elapsed < 30, f"rollback took {elapsed:.1f} s"
    assert errors_seen, "the faulty model never served a request"
    _assert_serves(serving_task, tmp_path / "initial.onnx", onnx_models)
    assert "kws" not in deployer.store.active()


class _StopAfterBytes(threading.Event):
    """Pulls the plug once the partial download has reached ``limit`` bytes (a reboot)."""

    def __init__(self, part, limit):
        super().__init__()
        self.part, self.limit = part, limit

    def is_set(self):
        return super().is_set() or (self.part.exists() and self.part.stat().st_size >= self.limit)


def test_restart_in_the_middle_of_downloading_resumes(onnx_models, tmp_path, fleet, serving_task):
    registry, server = fleet
    big = onnx_models.make(tmp_path / "kws.onnx", seed=3, hidden=8192)              # ~400 KB
    manifest = registry.add(big, name="kws")
    request = _request(fleet, manifest, "job-resume")
    first = Deployer(OtaStore(tmp_path / "state"), [registry.key.public_key], lambda r: None)
    record = first.run(request, TaskSlot(serving_task),
                       _StopAfterBytes(first.store.part_path("job-resume"), manifest.size // 3))
    assert record["state"] == "downloading"
    kept = first.store.part_path("job-resume").stat().st_size
    assert 0 < kept < manifest.size
    _assert_serves(serving_task, tmp_path / "initial.onnx", onnx_models)      # still the old model

    # "Reboot": new objects over the same state folder, the job journal drives the resume.
    second = Deployer(OtaStore(tmp_path / "state"), [registry.key.public_key], lambda r: None)
    record = second.run(DeployRequest.from_dict(second.store.load_job("job-resume")["request"]),
                        TaskSlot(serving_task))
    assert record["state"] == "healthy", record["detail"]
    artifact_path = "/" + request.url.split("/", 3)[3]
    assert (artifact_path, f"bytes={kept}-") in server.requests, server.requests
    _assert_serves(serving_task, big, onnx_models)


def test_restart_during_health_gate_rolls_back(onnx_models, tmp_path, fleet, device, serving_task):
    registry, _ = fleet
    deployer, slot, _ = device
    manifest = registry.add(onnx_models.make(tmp_path / "kws.onnx", seed=2), name="kws")
    request = _request(fleet, manifest, "job-crash", health=HealthPolicy(window_s=30, probe_interval_s=0.1))
    stop = threading.Event()
    reports_seen = []

    def report(record):
        reports_seen.append(record["state"])
        if record["state"] == "health_gate":
            stop.set()                                                    # power cut while judging
    deployer.report = report
    assert deployer.run(request, slot, stop)["state"] == "health_gate"
    record = Deployer(OtaStore(tmp_path / "state"), [registry.key.public_key], lambda r: None).run(request, slot)
    assert record["state"] == "rolled_back" and "restarted" in record["detail"]
    _assert_serves(serving_task, tmp_path / "initial.onnx", onnx_models)
