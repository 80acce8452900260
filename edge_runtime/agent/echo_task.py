"""A trivial task that counts and echoes: the smallest real workload, used in spine tests.

Params: ``per_step`` records per step (default 1), ``limit`` total records after which
it goes quiet (default: no limit), ``payload_bytes`` of filler per record (default 0),
``final_record`` (default false): one ``{"final": true}`` record at shutdown (``drain``).
"""
from __future__ import annotations

import time
from typing import Any

from edge_runtime.agent.task import Task


class EchoTask(Task):
    kind = "echo"

    def __init__(self, name, params, context):
        super().__init__(name, params, context)
        self.counter = 0
        self.per_step = int(self.params.get("per_step", 1))
        self.limit = self.params.get("limit")
        self.filler = "x" * int(self.params.get("payload_bytes", 0))

    def step(self) -> list[dict[str, Any]]:
        n = self.per_step if self.limit is None else min(self.per_step, int(self.limit) - self.counter)
        records = []
        for _ in range(max(0, n)):
            self.counter += 1
            record = {"n": self.counter, "t": time.time()}
            if self.filler:
                record["filler"] = self.filler
            records.append(record)
        return records

    def drain(self) -> list[dict[str, Any]]:
        return [{"final": True, "n": self.counter}] if self.params.get("final_record") else []

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"echo": request}

    def status(self) -> dict[str, Any]:
        return {"emitted": self.counter}
