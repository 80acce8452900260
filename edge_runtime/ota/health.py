"""The health gate: does the newly activated model behave, judged over a window of traffic?

Evidence comes from two places: real requests served by the task (``instrument`` wraps its
``handle``) and, so that a quiet device still produces evidence, active probes the gate
sends itself every ``probe_interval_s``. The gate fails early as soon as the error rate or
the p95 latency is over its limit with enough samples, so a broken model is rolled back in
seconds rather than after the whole window.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable


@dataclass
class HealthPolicy:
    window_s: float = 20.0
    max_error_rate: float = 0.1
    max_latency_ms: float | None = None     # p95 limit; None = latency not gated
    min_requests: int = 5
    probe_interval_s: float = 0.5

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "HealthPolicy":
        data = data or {}
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown health policy keys {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        policy = cls(**data)
        if policy.window_s <= 0 or not 0 <= policy.max_error_rate <= 1 or policy.min_requests < 1:
            raise ValueError(f"health policy out of range: {policy}")
        return policy

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class HealthVerdict:
    passed: bool
    reason: str
    requests: int
    errors: int
    p95_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class HealthMonitor:
    """Thread-safe record of (ok, latency) observations since the last reset."""

    def __init__(self):
        self._lock = threading.Lock()
        self._ok: list[bool] = []
        self._latency_ms: list[float] = []

    def record(self, ok: bool, latency_ms: float) -> None:
        with self._lock:
            self._ok.append(ok)
            self._latency_ms.append(latency_ms)

    def reset(self) -> None:
        with self._lock:
            self._ok.clear()
            self._latency_ms.clear()

    def summary(self) -> tuple[int, int, float]:
        """(requests, errors, p95 latency in ms)."""
        import numpy as np              # a health gate runs only on a device serving a model
        with self._lock:
            ok = np.array(self._ok, dtype=bool)
            latency = np.array(self._latency_ms)
        p95 = float(np.percentile(latency, 95)) if latency.size else 0.0
        return int(ok.size), int((~ok).sum()), p95


def instrument(task: Any, monitor: HealthMonitor, method: str = "handle") -> Callable[[], None]:
    """Count calls of the task's ``method`` into ``monitor``; returns the function that undoes it.

    An exception or a reply dict with an ``"error"`` key counts as a failure.
    """
    original = getattr(task, method)

    def wrapped(*args, **kwargs):
        start = time.perf_counter()
        try:
            reply = original(*args, **kwargs)
        except Exception:
            monitor.record(False, (time.perf_counter() - start) * 1e3)
            raise
        failed = isinstance(reply, dict) and bool(reply.get("error"))
        monitor.record(not failed, (time.perf_counter() - start) * 1e3)
        return reply

    setattr(task, method, wrapped)
    return lambda: task.__dict__.pop(method, None)


class HealthGate:
    def __init__(self, policy: HealthPolicy, monitor: HealthMonitor,
                 probe: Callable[[], Any] | None = None):
        self.policy = policy
        self.monitor = monitor
        self.probe = probe

    def _probe_once(self) -> None:
        start = time.perf_counter()
        try:
            reply = self.probe()
            ok = not (isinstance(reply, dict) and reply.get("error"))
        except Exception:
            ok = False
        self.monitor.record(ok, (time.perf_counter() - start) * 1e3)

    def _judge(self, final: bool) -> HealthVerdict | None:
        requests, errors, p95 = self.monitor.summary()
        policy = self.policy
        if requests >= policy.min_requests:
            rate = errors / requests
            if rate > policy.max_error_rate:
                return HealthVerdict(False, f"error rate {rate:.0%} over {policy.max_error_rate:.0%} "
                                            f"({errors}/{requests})", requests, errors, p95)
            if policy.max_latency_ms is not None and p95 > policy.max_latency_ms:
                return HealthVerdict(False, f"p95 latency {p95:.1f} ms over {policy.max_latency_ms:.1f} ms",
                                     requests, errors, p95)
        if not final:
            return None
        if requests < policy.min_requests:
            return HealthVerdict(False, f"only {requests} requests in {policy.window_s:.0f} s, "
                                        f"need {policy.min_requests} to judge", requests, errors, p95)
        return HealthVerdict(True, f"{errors}/{requests} errors, p95 {p95:.1f} ms", requests, errors, p95)

    def run(self, stop: threading.Event | None = None) -> HealthVerdict:
        """Watch for ``window_s`` (probing as configured) and return the verdict."""
        stop = stop or threading.Event()
        self.monitor.reset()
        deadline = time.monotonic() + self.policy.window_s
        while time.monotonic() < deadline:
            if self.probe is not None:
                self._probe_once()
            verdict = self._judge(final=False)
            if verdict is not None:
                return verdict
            if stop.wait(min(self.policy.probe_interval_s, max(0.0, deadline - time.monotonic()))):
                return HealthVerdict(False, "interrupted (agent stopping)", *self.monitor.summary())
        return self._judge(final=True)
