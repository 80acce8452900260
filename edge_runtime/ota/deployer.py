"""The device's deployment state machine, free of MQTT so it can be tested with files alone.

    queued → downloading → verifying → activating → health_gate → healthy
                      ↘ rejected (unsigned, bad signature, bad hash)   ↘ rolled_back
                      ↘ failed (download kept failing)

The manifest's signature is checked *before* downloading (no bandwidth spent on an
unsigned model) and the artifact's size + SHA-256 after. Activation is staged: the new
model is loaded on its own and run on a sample input while the task keeps serving the old
one; only a model that passes is swapped in. The health gate then watches live traffic
and probes; on failure the previous model is swapped back. Every transition is journaled
first (``OtaStore``), so after a reboot a job resumes where it stood: a download continues
from its ``.part``, a job caught inside its health gate is rolled back.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from edge_runtime.ota.download import DownloadCancelled, DownloadError, fetch_resumable, free_space_ok
from edge_runtime.ota.health import HealthGate, HealthMonitor, HealthPolicy
from edge_runtime.ota.manifest import ModelManifest, VerificationError, verify_artifact, verify_manifest
from edge_runtime.ota.store import OtaStore

STATES = ("queued", "downloading", "verifying", "activating", "health_gate",
          "healthy", "rolled_back", "rejected", "failed")
TERMINAL = frozenset({"healthy", "rolled_back", "rejected", "failed"})
DOWNLOAD_ATTEMPTS = 5


@dataclass
class DeployRequest:
    """What the coordinator asks of one device (body of ``deploy/<job>/request``)."""

    job: str
    manifest: ModelManifest
    url: str
    task: str | None = None                       # agent task to serve it; None = the only model task
    health: HealthPolicy = field(default_factory=HealthPolicy)
    sample: list | None = None                    # smoke/probe input; None = seeded random input
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DeployRequest":
        for key in ("job", "manifest", "url"):
            if key not in data:
                raise ValueError(f"deploy request lacks {key!r}")
        return cls(job=str(data["job"]), manifest=ModelManifest.from_dict(data["manifest"]),
                   url=str(data["url"]), task=data.get("task"),
                   health=HealthPolicy.from_dict(data.get("health")), sample=data.get("sample"),
                   headers=dict(data.get("headers") or {}))

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.job, "manifest": self.manifest.to_dict(), "url": self.url, "task": self.task,
                "health": self.health.to_dict(), "sample": self.sample, "headers": self.headers}


class ModelSlot(Protocol):
    """Where a model is served (an agent task); see ``component.TaskSlot``."""

    name: str

    def current_model(self) -> str | None: ...
    def swap_model(self, path: str) -> None: ...
    def observe(self, monitor: HealthMonitor) -> Callable[[], None]: ...
    def probe(self, sample: Any) -> Any: ...


def default_loader(path: Path):
    from edge_runtime.models.load import load_model
    return load_model(path)


def smoke_run(runner, sample: list | None) -> list:
    """Run the model once on the sample (or seeded random input) and return it; raise if the
    output is empty or not finite — the cheapest signal of a broken export."""
    import numpy as np                  # only a device that received a model needs it
    x = runner.random_inputs(seed=0) if sample is None else [np.asarray(sample, dtype=np.float32)]
    outputs = runner.run(x)
    if not outputs or any(np.asarray(y).size == 0 for y in outputs):
        raise RuntimeError("smoke run returned no output")
    bad = [i for i, y in enumerate(outputs) if not np.all(np.isfinite(np.asarray(y, dtype=np.float64)))]
    if bad:
        raise RuntimeError(f"smoke run produced NaN/inf in output(s) {bad}")
    return x


class Deployer:
    def __init__(self, store: OtaStore, trusted_keys: list, report: Callable[[dict], None],
                 load_runner: Callable[[Path], Any] = default_loader):
        self.store = store
        self.trusted_keys = trusted_keys
        self.report = report
        self.load_runner = load_runner

    # -- journal -----------------------------------------------------------------------
    def _record(self, request: DeployRequest) -> dict[str, Any]:
        record = self.store.load_job(request.job)
        if record is None:
            record = {"job": request.job, "request": request.to_dict(), "state": "queued",
                      "model": request.manifest.ref, "created": time.time(), "history": []}
            self._move(record, "queued", "received")
        return record

    def _move(self, record: dict[str, Any], state: str, detail: str = "", **extra) -> None:
        assert state in STATES, state
        record.update(state=state, detail=detail, updated=time.time(), **extra)
        record["history"].append({"state": state, "detail": detail, "ts": record["updated"],
                                  "id": uuid.uuid4().hex[:8]})
        self.store.save_job(record)
        self.report(dict(record))

    # -- the machine ---------------------------------------------------------------------
    def run(self, request: DeployRequest, slot: ModelSlot, stop: threading.Event | None = None) -> dict:
        """Drive one job as far as it goes; returns its record (terminal unless stopped)."""
        stop = stop or threading.Event()
        record = self._record(request)
        if record["state"] in TERMINAL:
            return record
        if record["state"] == "health_gate":       # we rebooted while judging: trust the old model
            return self._roll_back(record, slot, "agent restarted during the health gate")
        try:
            verify_manifest(request.manifest, self.trusted_keys)
        except VerificationError as exc:
            self._move(record, "rejected", str(exc))
            return record
        part = self.store.part_path(request.job)
        if record["state"] in ("queued", "downloading"):
            if not self._download(record, request, part, stop):
                return record
        if record["state"] == "verifying":
            try:
                verify_artifact(part, request.manifest)
            except (VerificationError, FileNotFoundError) as exc:
                part.unlink(missing_ok=True)
                self._move(record, "rejected", str(exc))
                return record
            path = self.store.install(part, request.manifest)
            self._move(record, "activating", "verified; staging", path=str(path),
                       previous=slot.current_model())
        if record["state"] == "activating":
            return self._activate_and_gate(record, request, slot, stop)
        return record

    def _download(self, record, request: DeployRequest, part: Path, stop: threading.Event) -> bool:
        manifest = request.manifest
        if not free_space_ok(part.parent, manifest.size):
            self._move(record, "failed", f"not enough disk space for {manifest.size} bytes")
            return False
        resumed_at = part.stat().st_size if part.exists() else 0
        self._move(record, "downloading", f"from byte {resumed_at}" if resumed_at else "starting")
        last_report = [time.monotonic()]

        def progress(done: int, total: int) -> None:
            if time.monotonic() - last_report[0] > 1.0:
                last_report[0] = time.monotonic()
                self.report(dict(record, progress=round(done / total, 3)))

        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                fetch_resumable(request.url, part, manifest.size, headers=request.headers,
                                progress=progress, should_stop=stop.is_set)
                self._move(record, "verifying", f"{manifest.size} bytes downloaded")
                return True
            except DownloadCancelled:
                return False                       # stays 'downloading'; resumes next start
            except DownloadError as exc:
                if attempt == DOWNLOAD_ATTEMPTS:
                    self._move(record, "failed", f"download failed {attempt} times: {exc}")
                    return False
                if stop.wait(min(2 ** attempt, 30)):
                    return False
        return False

    def _activate_and_gate(self, record, request: DeployRequest, slot: ModelSlot, stop) -> dict:
        path = record["path"]
        try:
            runner = self.load_runner(Path(path))
            sample = smoke_run(runner, request.sample)
        except Exception as exc:                    # any failure to load/run = not activatable
            return self._roll_back(record, slot, f"smoke run failed: {exc}", swapped=False)
        monitor = HealthMonitor()
        try:
            slot.swap_model(path)
        except Exception as exc:
            return self._roll_back(record, slot, f"task refused the model: {exc}")
        self._move(record, "health_gate", f"serving {request.manifest.ref}; watching "
                                          f"{request.health.window_s:.0f} s")
        undo = slot.observe(monitor)
        try:
            gate = HealthGate(request.health, monitor, probe=lambda: slot.probe(sample))
            verdict = gate.run(stop)
        finally:
            undo()
        if stop.is_set() and not verdict.passed:
            return record                           # judged again (= rolled back) after restart
        if not verdict.passed:
            return self._roll_back(record, slot, f"health gate failed: {verdict.reason}",
                                   health=verdict.to_dict())
        previous = self.store.active().get(slot.name, {}).get("current")
        self.store.set_active(slot.name, {"ref": request.manifest.ref, "path": path, "job": request.job},
                              previous or ({"ref": "initial", "path": record.get("previous")}
                                           if record.get("previous") else None))
        self.store.prune(request.manifest.name, {path, str(record.get("previous") or "")})
        self._move(record, "healthy", f"health gate passed: {verdict.reason}", health=verdict.to_dict())
        return record

    def _roll_back(self, record, slot: ModelSlot, reason: str, swapped: bool = True, **extra) -> dict:
        """Put the previous model back (if the new one was ever swapped in) and say why."""
        previous = record.get("previous")
        if swapped and previous:
            try:
                slot.swap_model(previous)
            except Exception as exc:
                reason += f"; restoring {previous} failed too: {exc}"
        detail = reason + (f"; serving {Path(previous).name} again" if previous else "")
        self._move(record, "rolled_back", detail, **extra)
        return record
