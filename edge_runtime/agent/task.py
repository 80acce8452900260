"""The one small interface through which workloads plug into the agent.

A task consumes input (files, a stream, generated data, requests) and returns result
records; it never touches MQTT. The agent owns delivery: it stores each record in
its durable outbox and publishes it on ``.../result/<task name>``.

Lifecycle, driven by the agent:

* ``__init__(name, params, context)`` from the device config
  (``tasks: [{kind: das, name: traffic, interval_s: 1.0, params: {...}}]``);
* ``step()`` every ``interval_s`` seconds: do the work that is ready, return records;
* ``handle(request)`` for request/response work addressed to this task (a command
  ``run_task``, an FL round, an ED-ViT inference): return the reply body;
* ``status()`` what goes into heartbeats / the TD (model and backend in use, ...);
* ``drain()`` on shutdown: the records only the end of the stream completes (a last,
  shorter window); the agent stores them in the outbox like any others;
* ``close()`` after that.

Records and replies are plain dicts of JSON types; numpy arrays are allowed and are
sent as CBOR (the protocol layer converts them).
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass
class TaskContext:
    """What the agent gives a task: who it runs on and where it may keep state."""

    device_id: str
    profile: Any                      # device_profiles.Profile (or None in unit tests)
    state_dir: Path                   # persistent, per task; survives restarts
    shared_data: Path | None = None   # ../shared/data when present
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("edge_runtime.task"))


class Task:
    """Base class of every workload task; override what differs."""

    kind: ClassVar[str] = "task"

    def __init__(self, name: str, params: dict[str, Any], context: TaskContext):
        self.name = name
        self.params = dict(params)
        self.context = context

    def step(self) -> list[dict[str, Any]]:
        """Do the work that is ready now and return result records (possibly none)."""
        return []

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer a request addressed to this task."""
        raise NotImplementedError(f"task kind {self.kind!r} takes no requests")

    def status(self) -> dict[str, Any]:
        """Facts for heartbeats and the dashboard (model, backend actually in use, counters)."""
        return {}

    def drain(self) -> list[dict[str, Any]]:
        """Records that only shutdown completes; delivered (via the outbox) before ``close``."""
        return []

    def close(self) -> None:
        """Release files, models and threads."""


# kind -> "module:Class"; imported only when a config uses that kind.
TASK_KINDS: dict[str, str] = {
    "echo": "edge_runtime.agent.echo_task:EchoTask",
    "model": "edge_runtime.models.task:ModelTask",
    "das": "edge_runtime.das.task:DasTrafficTask",
    "lidar": "edge_runtime.lidar.task:LidarTrackingTask",
    "online": "edge_runtime.online.task:OnlineLearningTask",
    "fl_client": "edge_runtime.online.fl_task:FederatedClientTask",
    "edvit": "edge_runtime.edvit.task:EdvitSubmodelTask",
}
# kind -> the extra whose packages it imports (the base install runs none of them).
TASK_EXTRAS = {"model": "litert] or [onnx", "das": "das", "lidar": "lidar", "online": "online",
               "fl_client": "online", "edvit": "edvit"}


def load_task_class(kind: str) -> type[Task]:
    """The Task class for ``kind`` (a registered kind, or a ``module:Class`` path for tasks
    outside this package), with a clear error listing the known kinds."""
    try:
        target = kind if ":" in kind else TASK_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown task kind {kind!r}; known kinds: {', '.join(sorted(TASK_KINDS))}") from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if kind in TASK_EXTRAS and exc.name and not exc.name.startswith("edge_runtime"):
            raise ModuleNotFoundError(
                f"task kind {kind!r} needs {exc.name!r}, which this install lacks: "
                f"pip install 'edge-runtime[{TASK_EXTRAS[kind]}]'", name=exc.name) from exc
        raise
    return getattr(module, class_name)
