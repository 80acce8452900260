"""A trivial task that counts and echoes: the smallest real workload, used in spine tests."""
from __future__ import annotations

import time
from typing import Any

from edge_runtime.agent.task import Task


class EchoTask(Task):
    kind = "echo"

    def __init__(self, name, params, context):
        super().__init__(name, params, context)
        self.counter = 0

    def step(self) -> list[dict[str, Any]]:
        self.counter += 1
        return [{"n": self.counter, "t": time.time()}]

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"echo": request}
