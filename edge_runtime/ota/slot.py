"""Adapter from an agent task that serves a model (``ModelTask``) to the deployer's ModelSlot."""
from __future__ import annotations

from typing import Any, Callable

from edge_runtime.agent.task import Task

from edge_runtime.ota.health import HealthMonitor, instrument


class TaskSlot:
    """Swap, observe and probe a running task that has ``swap_model(path)``."""

    def __init__(self, task: Any):
        if not callable(getattr(task, "swap_model", None)):
            raise TypeError(f"task {getattr(task, 'name', task)!r} cannot take a new model (no swap_model)")
        self.task = task
        self.name = task.name

    def current_model(self) -> str | None:
        status = self.task.status()
        for source in (getattr(self.task, "model_path", None), status.get("model_path"),
                       status.get("model"), self.task.params.get("model")):
            if source:
                return str(source)
        return None

    def swap_model(self, path: str) -> None:
        self.task.swap_model(path)

    def observe(self, monitor: HealthMonitor) -> Callable[[], None]:
        """Count served requests (``handle``) and, for streaming tasks, every ``step``."""
        undo = [instrument(self.task, monitor, "handle")]
        if self.streams:
            undo.append(instrument(self.task, monitor, "step"))
        return lambda: [u() for u in undo]

    @property
    def streams(self) -> bool:
        """A task that runs its model on its own input every step (ModelTask) rather than on requests."""
        return getattr(self.task, "kind", "") == "model" and type(self.task).step is not Task.step

    def probe(self, sample: Any) -> Any:
        """Run the live serving path once: the task's own ``probe``, one ``step`` of a streaming
        task (its configured input, i.e. what it really sees), else a request with the sample."""
        if callable(getattr(self.task, "probe", None)):
            return self.task.probe(sample)
        if self.streams:
            return type(self.task).step(self.task)      # unwrapped: the gate counts the probe itself
        import numpy as np                  # a probe only runs on a device serving a model
        arrays = sample if isinstance(sample, list) else [sample]
        body = [np.asarray(a).tolist() for a in arrays]
        return self.task.handle({"input": body[0] if len(body) == 1 else body})
