"""Adapter from an agent task that serves a model (``ModelTask``) to the deployer's ModelSlot."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from edge_runtime.ota.health import HealthMonitor, instrument


class TaskSlot:
    """Swap, observe and probe a running task that has ``swap_model(path)``."""

    def __init__(self, task: Any):
        if not callable(getattr(task, "swap_model", None)):
            raise TypeError(f"task {getattr(task, 'name', task)!r} cannot take a new model (no swap_model)")
        self.task = task
        self.name = task.name

    def current_model(self) -> str | None:
        for source in (getattr(self.task, "model_path", None), self.task.status().get("model_path"),
                       self.task.params.get("model")):
            if source:
                return str(source)
        return None

    def swap_model(self, path: str) -> None:
        self.task.swap_model(path)

    def observe(self, monitor: HealthMonitor) -> Callable[[], None]:
        return instrument(self.task, monitor)

    def probe(self, sample: Any) -> Any:
        """Serve one sample through the live task (its own ``probe`` if it has one)."""
        if callable(getattr(self.task, "probe", None)):
            return self.task.probe(sample)
        arrays = sample if isinstance(sample, list) else [sample]
        body = [np.asarray(a).tolist() for a in arrays]
        return self.task.handle({"input": body[0] if len(body) == 1 else body})
