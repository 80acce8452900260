"""The agent component that runs OTA deployments: orders in over MQTT, job states out.

Topics (device-scoped, docs/protocol.md): the coordinator publishes a retained order on
``deploy/<job>/order`` (replaced by a ``{"done": true}`` tombstone once the job ended); the device answers on ``deploy/<job>`` (retained, durable) with
``{"job", "state", "phase", "detail", "model", ...}``. ``phase`` is the fine-grained step
(``health_gate``, ``rejected`` included); ``state`` is the protocol's coarse value.

Jobs run one at a time on a worker thread, so a long download never blocks the agent.
Fleet public keys are looked up in ``$EDGE_RUNTIME_FLEET_KEYS`` (paths separated by
``os.pathsep``), ``<component state dir>/trusted_keys/*.pem`` and
``/etc/edge-runtime/trusted_keys/*.pem`` (the bundle installs one there).
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

from edge_runtime.ota.deployer import TERMINAL, Deployer, DeployRequest
from edge_runtime.ota.manifest import load_public_key
from edge_runtime.ota.slot import TaskSlot
from edge_runtime.ota.store import OtaStore

log = logging.getLogger(__name__)
SYSTEM_KEY_DIR = Path("/etc/edge-runtime/trusted_keys")
KEYS_ENV = "EDGE_RUNTIME_FLEET_KEYS"
# Fine-grained phases the protocol's coarse deploy states do not name (yet).
COARSE_STATE = {"health_gate": "activating", "rejected": "failed"}


def trusted_key_paths(component_dir: Path) -> list[Path]:
    paths = [Path(p) for p in os.environ.get(KEYS_ENV, "").split(os.pathsep) if p]
    for folder in (component_dir / "trusted_keys", SYSTEM_KEY_DIR):
        if folder.is_dir():
            paths += sorted(folder.glob("*.pem"))
    return paths


class OtaComponent:
    def __init__(self, host: Any):
        self.host = host
        self.log = getattr(host, "log", log)
        self.store = OtaStore(host.state_dir)
        self.key_paths = trusted_key_paths(Path(host.state_dir))
        # Keys are parsed when the first job runs: an idle agent never loads cryptography.
        self.deployer = Deployer(self.store, [], self._report)
        self._keys_loaded = False
        self._orders: "queue.Queue[DeployRequest | None]" = queue.Queue()
        self._queued: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._restore_active_models()
        for record in self.store.jobs():          # jobs a reboot interrupted
            if record["state"] not in TERMINAL:
                self._enqueue(DeployRequest.from_dict(record["request"]))
        self.host.subscribe("deploy/+/order", self._on_order)
        self._thread = threading.Thread(target=self._work, name="ota", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._orders.put(None)
        if self._thread:
            self._thread.join(timeout=10)

    def status(self) -> dict[str, Any]:
        return {"active": self.store.active(), "trusted_keys": [p.name for p in self.key_paths]}

    # -- orders --------------------------------------------------------------------------
    def _on_order(self, message: Any) -> None:
        body = message.body if hasattr(message, "body") else message
        if isinstance(body, dict) and body.get("done"):
            return                                  # the coordinator's tombstone of a finished job
        try:
            request = DeployRequest.from_dict(body)
        except (ValueError, TypeError) as exc:
            job = str(body.get("job", "unknown")) if isinstance(body, dict) else "unknown"
            self._publish({"job": job, "state": "failed", "phase": "rejected",
                           "detail": f"malformed deploy order: {exc}", "ts": time.time()})
            return
        record = self.store.load_job(request.job)
        if record and record["state"] in TERMINAL:
            self._report(record)                    # the cloud may have missed it: say it again
            return
        self._enqueue(request)

    def _enqueue(self, request: DeployRequest) -> None:
        if request.job not in self._queued:
            self._queued.add(request.job)
            self._orders.put(request)

    def _work(self) -> None:
        while not self._stop.is_set():
            request = self._orders.get()
            if request is None:
                return
            try:
                if not self._keys_loaded:
                    self.deployer.trusted_keys = [load_public_key(p) for p in self.key_paths]
                    self._keys_loaded = True
                self.deployer.run(request, self._slot_for(request.task), self._stop)
            except (LookupError, ValueError) as exc:      # no such task, unreadable fleet key
                self._publish({"job": request.job, "state": "failed", "phase": "failed",
                               "detail": str(exc), "model": request.manifest.ref, "ts": time.time()})
            except Exception:
                self.log.exception("deployment %s crashed", request.job)
            finally:
                self._queued.discard(request.job)

    def _slot_for(self, task_name: str | None) -> TaskSlot:
        tasks = self.host.tasks
        if task_name:
            if task_name not in tasks:
                raise LookupError(f"no task {task_name!r} on this device (tasks: {', '.join(tasks) or 'none'})")
            return TaskSlot(tasks[task_name])
        serving = [t for t in tasks.values() if callable(getattr(t, "swap_model", None))]
        if len(serving) != 1:
            raise LookupError(f"deploy order names no task and {len(serving)} tasks can take a model; "
                              f"name one with 'task'")
        return TaskSlot(serving[0])

    def _restore_active_models(self) -> None:
        """After a reboot, tasks start with their configured model: put the OTA'd one back."""
        for task_name, entry in self.store.active().items():
            task = self.host.tasks.get(task_name)
            current = (entry.get("current") or {}).get("path")
            if task is None or not current or not Path(current).exists():
                continue
            slot = TaskSlot(task)
            if slot.current_model() != current:
                try:
                    slot.swap_model(current)
                except Exception:
                    self.log.exception("could not restore model %s into task %s", current, task_name)

    # -- reports -------------------------------------------------------------------------
    def _report(self, record: dict[str, Any]) -> None:
        phase = record["state"]
        body = {"job": record["job"], "state": COARSE_STATE.get(phase, phase), "phase": phase,
                "detail": record.get("detail", ""), "model": record.get("model"), "ts": time.time()}
        for key in ("progress", "health"):
            if key in record:
                body[key] = record[key]
        self._publish(body, durable="progress" not in record)

    def _publish(self, body: dict[str, Any], durable: bool = True) -> None:
        self.host.publish(f"deploy/{body['job']}", body, durable=durable, retain=True)
