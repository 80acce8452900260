"""OTA's routes on the coordinator's HTTP server (``cloud_sync.dashboard.server``).

``mount(server, ota)`` adds:

* ``POST /api/deploy`` (bearer token required): ``{"model": "kws:v2", "to": "pi-01,pi-02" |
  [ids] | "SELECT ...", "task": "kws", "health": {...}}`` → 201 with the job;
* ``GET /api/deployments`` and ``GET /api/deployments/<job>``: jobs with per-device phases.
"""
from __future__ import annotations

import json
from typing import Any

from cloud_sync.ota.registry import RegistryError

DEPLOY_FIELDS = {"model", "to", "task", "health", "sample"}


def _json(body: Any, status: int = 200):
    return status, {"Content-Type": "application/json"}, json.dumps(body, default=str).encode()


def mount(server: Any, ota: Any) -> None:
    def deploy(method: str, path: str, headers: dict[str, str], body: bytes):
        try:
            order = json.loads(body or b"{}")
        except ValueError:
            return _json({"error": "body must be JSON: {\"model\": ..., \"to\": ...}"}, 400)
        if not isinstance(order, dict) or not {"model", "to"} <= set(order) or set(order) - DEPLOY_FIELDS:
            return _json({"error": f"body needs 'model' and 'to' (optional: task, health, sample); "
                                   f"got {sorted(order) if isinstance(order, dict) else type(order).__name__}"}, 400)
        options = {k: order[k] for k in ("task", "health", "sample") if k in order}
        try:
            job = ota.deploy(order["model"], order["to"], **options)
        except (RegistryError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        except ConnectionError as exc:
            return _json({"error": str(exc)}, 503)
        return _json(job, 201)

    def deployments(method: str, path: str, headers: dict[str, str], body: bytes):
        job_id = path.split("?", 1)[0].removeprefix("/api/deployments").strip("/")
        try:
            return _json(ota.status(job_id) if job_id else ota.deployments.list())
        except KeyError as exc:
            return _json({"error": str(exc.args[0])}, 404)

    server.mount("POST", "/api/deploy", deploy, needs_token=True)
    server.mount("GET", "/api/deployments", deployments)
