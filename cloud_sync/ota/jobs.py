"""Deploy jobs on the cloud side: what was ordered, and where each device stands.

A job is written once when it is created (``<data>/deployments/<job>.json``: model,
manifest, targets, policy); the devices' own reports (``deploy/<job>``, stored by the
coordinator's ingest) say how far each got. The job's overall state is derived, never
stored, so it cannot disagree with what the devices said.

Per-device phases follow the device state machine: queued → downloading → verifying →
activating → health_gate → healthy | rolled_back, or rejected / failed.
"""
from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

PHASES = ("ordered", "queued", "downloading", "verifying", "activating", "health_gate",
          "healthy", "rolled_back", "rejected", "failed")
TERMINAL = frozenset({"healthy", "rolled_back", "rejected", "failed"})
RANK = {phase: i for i, phase in enumerate(PHASES)}


def new_job_id() -> str:
    return time.strftime("d%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(2)


def phase_of(body: dict[str, Any] | None) -> str:
    """A device report's fine-grained phase (``phase``, falling back to the coarse ``state``)."""
    if not body:
        return "ordered"
    phase = body.get("phase") or body.get("state") or "ordered"
    return phase if phase in RANK else "ordered"


def advance(current: dict[str, Any] | None, report: dict[str, Any]) -> dict[str, Any]:
    """The newer of two reports for one device: a terminal phase is never undone and a
    late, older progress report (replayed after an outage) never moves a device back."""
    if current is None:
        return report
    old, new = phase_of(current), phase_of(report)
    if old in TERMINAL:
        return current
    return report if RANK[new] >= RANK[old] else current


class JobBook:
    def __init__(self, data_dir: Path):
        self.dir = Path(data_dir) / "deployments"
        self.dir.mkdir(parents=True, exist_ok=True)

    def create(self, job: dict[str, Any]) -> dict[str, Any]:
        path = self.dir / f"{job['job']}.json"
        if path.exists():
            raise ValueError(f"deploy job {job['job']} exists already")
        path.write_text(json.dumps(job, indent=1))
        return job

    def get(self, job_id: str) -> dict[str, Any]:
        path = self.dir / f"{job_id}.json"
        if not path.exists():
            known = ", ".join(j["job"] for j in self.list()[-5:]) or "none"
            raise KeyError(f"no deploy job {job_id!r} (latest: {known})")
        return json.loads(path.read_text())

    def list(self) -> list[dict[str, Any]]:
        jobs = [json.loads(p.read_text()) for p in self.dir.glob("*.json")]
        return sorted(jobs, key=lambda j: j["created"])


def summarize(job: dict[str, Any], reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The job with per-device phase/detail and an overall state:
    ``running`` until every target is terminal, then ``healthy`` (all), ``partial`` or ``failed``."""
    devices = {}
    for device in job["targets"]:
        body = reports.get(device)
        devices[device] = {"phase": phase_of(body), "detail": (body or {}).get("detail", ""),
                           "progress": (body or {}).get("progress")}
    phases = [d["phase"] for d in devices.values()]
    if not all(p in TERMINAL for p in phases):
        overall = "running"
    elif all(p == "healthy" for p in phases):
        overall = "healthy"
    elif any(p == "healthy" for p in phases):
        overall = "partial"
    else:
        overall = "failed"
    counts: dict[str, int] = {}
    for phase in phases:
        counts[phase] = counts.get(phase, 0) + 1
    return {**job, "state": overall, "counts": counts, "devices": devices}
