"""One thread per configured task: call ``step()`` every ``interval_s``, hand records to delivery.

Why a thread per task: a slow workload (a 60-s DAS window) must not delay a fast one or
the heartbeat. ``step`` and ``handle`` of one task never run at the same time (one lock
per task), so task authors need no locking of their own.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from edge_runtime.agent.config import TaskSpec
from edge_runtime.agent.task import Task, TaskContext, load_task_class

log = logging.getLogger(__name__)


class TaskRunner:
    def __init__(self, spec: TaskSpec, context: TaskContext,
                 deliver: Callable[[str, list[dict[str, Any]]], int]):
        self.spec = spec
        self.name = spec.name
        self.task: Task = load_task_class(spec.kind)(spec.name, spec.params, context)
        self._deliver = deliver
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.steps = 0
        self.records = 0
        self.errors = 0
        self.last_error: str | None = None

    def start(self) -> None:
        if self.spec.interval_s > 0:
            self._thread = threading.Thread(target=self._run, name=f"task-{self.name}", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
        with self._lock:
            try:
                final = self.task.drain() or []
            except Exception:
                final = []
                log.exception("task %s failed to drain", self.name)
            try:
                self.task.close()
            except Exception:
                log.exception("task %s failed to close", self.name)
        if final:
            self.records += self._deliver(self.name, final)   # into the outbox: nothing lost

    def step_now(self) -> int:
        """Run one step and deliver its records; the number of records."""
        with self._lock:
            try:
                records = self.task.step() or []
            except Exception as exc:
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("task %s step failed", self.name)
                return 0
            self.steps += 1
        if records:
            self.records += self._deliver(self.name, records)
        return len(records)

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self.task.handle(request)

    def status(self) -> dict[str, Any]:
        try:
            own = self.task.status()
        except Exception as exc:
            own = {"status_error": str(exc)}
        return {"kind": self.spec.kind, "steps": self.steps, "records": self.records,
                "errors": self.errors, "last_error": self.last_error, **own}

    def _run(self) -> None:
        next_due = time.monotonic()
        while not self._stop.is_set():
            self.step_now()
            next_due += self.spec.interval_s
            delay = next_due - time.monotonic()
            if delay < 0:  # fell behind: do not try to catch up with a burst
                next_due = time.monotonic()
                delay = 0
            self._stop.wait(delay)
