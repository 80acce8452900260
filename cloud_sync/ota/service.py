"""Deployments on the cloud side: resolve targets, publish signed orders, follow the devices.

``Deployments`` is transport-agnostic (it is given a ``publish`` function and a way to read
device reports), so the same code runs inside a coordinator (``OtaService``) and in the
``cloud-sync deploy`` command, which talks to the broker of a running coordinator.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

from cloud_sync.ota.fileserver import ArtifactServer
from cloud_sync.ota.jobs import TERMINAL, JobBook, advance, new_job_id, summarize
from cloud_sync.ota.registry import ModelRegistry
from cloud_sync.protocol.topics import check_device_id
from edge_runtime.ota.health import HealthPolicy
from edge_runtime.waiting import wait_until

log = logging.getLogger(__name__)
ARTIFACT_RUNTIME_FILE = "ota-artifacts.json"
Publish = Callable[[str, str, dict[str, Any]], bool]          # (device, suffix, body) -> sent?
Reports = Callable[[str], dict[str, dict[str, Any]]]           # job -> {device: report body}


def looks_like_sparql(text: str) -> bool:
    head = text.lstrip().upper()
    return head.startswith(("SELECT", "PREFIX", "BASE")) or text.endswith(".rq")


def devices_from_rows(rows: list[dict[str, Any]]) -> list[str]:
    """Device ids from SELECT rows: the ``device``/``device_id``/``deviceId`` column (an id
    literal or a device IRI), else the first column."""
    from ontology.ns import id_from_iri
    found: list[str] = []
    for row in rows:
        value = next((row[k] for k in ("device", "device_id", "deviceId") if row.get(k) is not None),
                     next(iter(row.values()), None))
        if value is not None:
            device = id_from_iri(str(value)) if "/" in str(value) else str(value)
            if device not in found:
                found.append(device)
    return found


def resolve_targets(to: str, graph: Any = None) -> tuple[list[str], str]:
    """(device ids, how they were chosen) from ``pi-01,pi-02``, a SPARQL SELECT or a ``.rq`` file."""
    if looks_like_sparql(to):
        if graph is None:
            raise ValueError("a SPARQL target needs the fleet graph (coordinator --graph / --data)")
        sparql = Path(to).read_text() if to.endswith(".rq") else to
        targets = devices_from_rows(graph.query(sparql))
        if not targets:
            raise ValueError("the SPARQL target query matched no devices")
        return targets, f"sparql: {' '.join(sparql.split())[:200]}"
    targets = [d.strip() for d in to.split(",") if d.strip()]
    if not targets:
        raise ValueError("no target devices given: use --to pi-01,pi-02 or a SPARQL SELECT")
    for device in targets:
        check_device_id(device)
    return targets, "list"


class Deployments:
    def __init__(self, data_dir: Path, publish: Publish, reports: Reports,
                 artifact_base_url: str | None = None):
        self.registry = ModelRegistry(data_dir)
        self.book = JobBook(data_dir)
        self.publish = publish
        self.reports = reports
        self.artifact_base_url = artifact_base_url

    def artifact_url(self, manifest) -> str:
        if self.artifact_base_url:
            return f"{self.artifact_base_url.rstrip('/')}/models/{manifest.name}/{manifest.version}/{manifest.filename}"
        return self.registry.artifact(manifest).resolve().as_uri()      # same host only (demo, tests)

    def deploy(self, model: str, targets: list[str], *, selector: str = "list", task: str | None = None,
               health: HealthPolicy | dict | None = None, sample: list | None = None,
               job_id: str | None = None) -> dict[str, Any]:
        """Order ``model`` (``name`` or ``name:version``) onto ``targets``; returns the job."""
        manifest = self.registry.get(model)
        policy = health if isinstance(health, HealthPolicy) else HealthPolicy.from_dict(health)
        job_id = job_id or new_job_id()
        order = {"job": job_id, "manifest": manifest.to_dict(), "url": self.artifact_url(manifest),
                 "task": task, "health": policy.to_dict(), "sample": sample}
        job = self.book.create({"job": job_id, "model": manifest.ref, "targets": list(targets),
                                "selector": selector, "task": task, "health": policy.to_dict(),
                                "url": order["url"], "created": time.time()})
        unsent = [device for device in targets if not self.publish(device, f"deploy/{job_id}/order", order)]
        if unsent:
            raise ConnectionError(f"deploy order {job_id} not sent to {', '.join(unsent)}: broker not connected")
        return job

    def status(self, job_id: str) -> dict[str, Any]:
        return summarize(self.book.get(job_id), self.reports(job_id))

    def list(self) -> list[dict[str, Any]]:
        return [self.status(job["job"]) for job in self.book.list()]

    def wait(self, job_id: str, timeout: float) -> dict[str, Any]:
        """Block until every target of the job is in a terminal phase."""
        wait_until(lambda: self.status(job_id)["state"] != "running", timeout,
                   what=f"deploy job {job_id} to finish")
        return self.status(job_id)


class OtaService:
    """Deployments inside a running coordinator, with the artifact HTTP server beside it.

    ``OtaService(coordinator).start()``; ``.deploy(...)``, ``.status(job)``, ``.wait(job, t)``.
    """

    def __init__(self, coordinator: Any, *, http_host: str = "127.0.0.1", http_port: int = 0,
                 public_host: str | None = None, graph: Any = None, rate_bps: float | None = None):
        self.coordinator = coordinator
        self.graph = graph
        self._latest: dict[tuple[str, str], dict[str, Any]] = {}
        self._closed: set[tuple[str, str]] = set()
        registry = ModelRegistry(coordinator.data_dir)
        self.server = ArtifactServer(registry.root, http_host, http_port, public_host=public_host,
                                     rate_bps=rate_bps)
        self.deployments = Deployments(coordinator.data_dir, self._publish, self._reports,
                                       f"http://{self.server.public_host}:{self.server.port}")

    def start(self) -> "OtaService":
        self.server.start()
        (self.coordinator.data_dir / ARTIFACT_RUNTIME_FILE).write_text(
            json.dumps({"base_url": self.deployments.artifact_base_url}))
        self.coordinator.add_listener(self._on_event)
        return self

    def stop(self) -> None:
        self.coordinator.remove_listener(self._on_event)
        self.server.stop()
        (self.coordinator.data_dir / ARTIFACT_RUNTIME_FILE).unlink(missing_ok=True)

    def deploy(self, model: str, to: str | list[str], **options) -> dict[str, Any]:
        if isinstance(to, str):
            targets, selector = resolve_targets(to, self.graph)
        else:
            targets, selector = list(to), "list"
        return self.deployments.deploy(model, targets, selector=selector, **options)

    def status(self, job_id: str) -> dict[str, Any]:
        return self.deployments.status(job_id)

    def wait(self, job_id: str, timeout: float) -> dict[str, Any]:
        return self.deployments.wait(job_id, timeout)

    def _publish(self, device: str, suffix: str, body: dict[str, Any]) -> bool:
        return self.coordinator.publish(device, suffix, body, retain=True)

    def _reports(self, job_id: str) -> dict[str, dict[str, Any]]:
        reports: dict[str, dict[str, Any]] = {}
        for row in self.coordinator.deployments():
            if row["job"] == job_id:
                reports[row["device_id"]] = advance(self._latest.get((row["device_id"], job_id)), row["body"])
        return reports

    def _on_event(self, event: Any) -> None:
        """Keep the furthest report per device; once a device is done, replace its retained order
        by a small retained tombstone (so a re-flashed device does not replay old jobs, and no
        device ever sees an undecodable empty payload)."""
        if event.kind != "deploy":
            return
        job_id = event.body.get("job")
        key = (event.device_id, job_id)
        self._latest[key] = advance(self._latest.get(key), dict(event.body))
        phase = self._latest[key].get("phase") or self._latest[key].get("state")
        if phase in TERMINAL and key not in self._closed:
            self._closed.add(key)
            self.coordinator.publish(event.device_id, f"deploy/{job_id}/order",
                                     {"job": job_id, "done": True, "phase": phase}, retain=True)

def attach_ota(coordinator: Any, *, dashboard: Any = None, graph: Any = None, http_host: str = "127.0.0.1",
               http_port: int = 0, public_host: str | None = None) -> OtaService:
    """One call for the coordinator process: start OTA (artifact server, job tracking) and, when
    a dashboard server is given, mount its token-guarded HTTP routes. Stop with ``.stop()``."""
    ota = OtaService(coordinator, http_host=http_host, http_port=http_port, public_host=public_host,
                     graph=graph).start()
    if dashboard is not None:
        from cloud_sync.ota.http_api import mount
        mount(dashboard, ota)
    return ota
