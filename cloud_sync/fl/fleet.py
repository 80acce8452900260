"""The one door between strategies and devices (Flower's ``Grid``): send one request to
several devices, wait until a deadline, get back who answered.

``InProcessFleet`` runs the devices' handlers in this process (the fast simulation
for experiments and tests) but still pushes every body through CBOR both ways, so
byte counts and serialisation are exactly what the MQTT fleet sends.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np


@dataclass
class Reply:
    """One device's answer; byte counts are what crossed the wire (request out, reply in)."""

    body: dict[str, Any]
    latency_s: float
    bytes_out: int
    bytes_in: int


class Fleet(Protocol):
    def available(self) -> list[str]:
        """Devices that can be selected now."""

    def request_many(self, device_ids: list[str], task_name: str, body: dict[str, Any],
                     deadline_s: float) -> dict[str, Reply | None]:
        """Send ``body`` to each device's ``task_name``; ``None`` for those that did not answer in time."""


class InProcessFleet:
    """Simulated devices: ``handlers[device_id](body) -> reply body``.

    ``drop_rate`` makes that share of requests go unanswered (stragglers / devices that
    dropped out), drawn from ``seed`` so runs are repeatable.
    """

    def __init__(self, handlers: dict[str, Callable[[dict], dict]], drop_rate: float = 0.0, seed: int = 0):
        if not 0 <= drop_rate < 1:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
        self.handlers = handlers
        self.drop_rate = drop_rate
        self._rng = np.random.default_rng(seed)

    def available(self) -> list[str]:
        return sorted(self.handlers)

    def request_many(self, device_ids, task_name, body, deadline_s):
        import cbor2

        wire_out = cbor2.dumps(body)
        replies: dict[str, Reply | None] = {}
        for device in device_ids:
            if device not in self.handlers:
                raise KeyError(f"device {device!r} is not in this fleet")
            if self.drop_rate and self._rng.random() < self.drop_rate:
                replies[device] = None
                continue
            started = time.perf_counter()
            wire_in = cbor2.dumps(self.handlers[device](cbor2.loads(wire_out)))
            replies[device] = Reply(cbor2.loads(wire_in), time.perf_counter() - started,
                                    len(wire_out), len(wire_in))
        return replies
