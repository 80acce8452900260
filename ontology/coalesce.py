"""Write-on-change for the live figures of the fleet graph: many events, few graph writes.

At 10,000 devices a 1 Hz heartbeat is 10,000 events a second; written one by one (a
SPARQL DELETE/INSERT each, plus ``er:lastSeen``) they kept the coordinator's graph
thread busy for minutes after traffic stopped and grew the on-disk graph by ~12 MB a
minute (issue 16). The graph does not need that: it answers fleet questions (which
devices are hot, offline since T, behind on a model), and the exact last heartbeat
lives in the registry (SQLite ``devices.last_seen``, ``health``). So a figure is
written only when it *changes* enough to alter an answer:

* ``er:lastSeen`` when it advances by ``seen_resolution_s`` (default 60 s) or more;
* temperature when it moves by ``temperature_step_c`` (1 °C), CPU by ``cpu_step`` (10
  percentage points), memory by ``memory_step`` (5 % relative), or when the written
  figures are older than ``health_refresh_s`` (300 s) — ``er:healthUpdated`` is then at
  most that stale;
* result summaries (count, last result, mean latency) at most every ``summary_interval_s``.

Changes are merged per (subject, predicate) — the newest value wins — and written
together, ``max_subjects`` subjects per SPARQL update, every ``interval_s``. The graph
therefore holds a bounded, constant number of live triples per device; what grows with
time is only the store's write log, and that grows with the write *rate*, which these
rules cap at about one lastSeen per minute, one health write per 5 min (more only while
a figure really moves) and one summary per task per minute per device.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from rdflib import Graph, URIRef


@dataclass
class CoalesceRules:
    seen_resolution_s: float = 60.0
    temperature_step_c: float = 1.0
    cpu_step: float = 10.0
    memory_step: float = 0.05
    health_refresh_s: float = 300.0
    summary_interval_s: float = 60.0


@dataclass
class _Written:
    seen: float = float("-inf")
    health_at: float = float("-inf")
    temperature: float | None = None
    cpu: float | None = None
    memory: float | None = None


class LiveBuffer:
    """Pending live-figure triples, merged per (subject, predicate), plus lag/drop counters.

    Thread-safe: the coordinator's event thread adds, the flusher (or the caller) writes.
    """

    def __init__(self, store, rules: CoalesceRules | None = None, max_subjects: int = 2000):
        self.store = store
        self.rules = rules or CoalesceRules()
        self.max_subjects = max_subjects
        self._written: dict[str, _Written] = {}
        self._pending: dict[tuple[URIRef, URIRef], Any] = {}
        self._descriptions: dict[URIRef, Graph] = {}   # device → new static description (births)
        self._oldest_ts: float | None = None     # device timestamp of the oldest pending change
        self._writing = 0                        # triples taken by a flush and not yet stored
        self._writing_oldest: float | None = None
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self.events = 0          # figures offered
        self.coalesced = 0       # offered and found not worth a write
        self.writes = 0          # SPARQL updates sent
        self.triples_written = 0
        self.write_errors = 0
        self.lag_max_s = 0.0     # worst device-ts → in-graph delay seen (since reset_lag_max)
        self.last_lag_s = 0.0

    # ----- deciding -------------------------------------------------------------------------------
    def _state(self, device_id: str) -> _Written:
        state = self._written.get(device_id)
        if state is None:
            state = self._written[device_id] = _Written()
        return state

    def seen_due(self, device_id: str, ts: float) -> bool:
        state = self._state(device_id)
        if ts - state.seen >= self.rules.seen_resolution_s:
            state.seen = ts
            return True
        return False

    def mark_seen(self, device_id: str, ts: float) -> None:
        """lastSeen was written by someone else (a status change): restart the resolution window."""
        self._state(device_id).seen = ts

    def health_due(self, device_id: str, ts: float, temperature: float | None, cpu: float | None,
                   memory: float | None) -> bool:
        state, r = self._state(device_id), self.rules
        moved = (_moved(state.temperature, temperature, r.temperature_step_c)
                 or _moved(state.cpu, cpu, r.cpu_step)
                 or _moved_relative(state.memory, memory, r.memory_step))
        if moved or ts - state.health_at >= r.health_refresh_s:
            state.health_at, state.temperature, state.cpu, state.memory = ts, temperature, cpu, memory
            return True
        return False

    def exclusive(self):
        """Hold off batch writes (a direct write of the same properties is being made)."""
        return self._flush_lock

    def discard(self, subject: URIRef, predicate: URIRef) -> None:
        with self._lock:
            self._pending.pop((subject, predicate), None)

    def forget(self, device_id: str) -> None:
        self._written.pop(device_id, None)

    # ----- buffering ------------------------------------------------------------------------------
    def add(self, graph: Graph, ts: float) -> None:
        """Merge ``graph`` (single-valued live properties) into the pending write."""
        with self._lock:
            for s, p, o in graph:
                self._pending[(s, p)] = o
            if self._oldest_ts is None or ts < self._oldest_ts:
                self._oldest_ts = ts

    def add_description(self, subject: URIRef, graph: Graph, ts: float) -> None:
        """A device description to swap in at the next flush (its live state is kept)."""
        with self._lock:
            self._descriptions[subject] = graph
            if self._oldest_ts is None or ts < self._oldest_ts:
                self._oldest_ts = ts

    def note(self, wanted: bool, ts: float) -> None:
        """Count one offered figure (and its lag now, if it needs no write)."""
        self.events += 1
        if not wanted:
            self.coalesced += 1
            self._lag(time.time() - ts)

    @property
    def pending(self) -> int:
        """Changes not yet in the graph (waiting or being written)."""
        return len(self._pending) + len(self._descriptions) + self._writing

    def lag_s(self) -> float:
        """How far the graph is behind right now: age of the oldest unwritten change, else the
        delay of the latest handled event (device clocks assumed synced; replays excluded)."""
        candidates = [t for t in (self._oldest_ts, self._writing_oldest) if t is not None]
        oldest = min(candidates) if candidates else None
        return max(0.0, time.time() - oldest) if oldest is not None else self.last_lag_s

    def reset_lag_max(self) -> None:
        self.lag_max_s = 0.0

    def _lag(self, lag: float) -> None:
        lag = max(0.0, lag)
        self.last_lag_s = lag
        if lag > self.lag_max_s:
            self.lag_max_s = lag

    # ----- writing --------------------------------------------------------------------------------
    def flush(self) -> int:
        """Write everything pending; returns the number of triples written."""
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
                descriptions, self._descriptions = self._descriptions, {}
                oldest, self._oldest_ts = self._oldest_ts, None
                self._writing, self._writing_oldest = len(pending) + len(descriptions), oldest
            if not pending and not descriptions:
                return 0
            try:
                if descriptions:    # first, so the live figures below land on the new description
                    self._write_descriptions(descriptions, pending, oldest)
                return self._write(pending, oldest)
            finally:
                self._writing, self._writing_oldest = 0, None

    def _write(self, pending: dict, oldest: float | None) -> int:
        """Store ``pending`` in chunks of max_subjects subjects; requeue what a failure left."""
        by_subject: dict[URIRef, list[tuple[URIRef, Any]]] = {}
        for (s, p), o in pending.items():
            by_subject.setdefault(s, []).append((p, o))
        subjects = list(by_subject)
        written = 0
        for start in range(0, len(subjects), self.max_subjects):
            chunk = subjects[start:start + self.max_subjects]
            graph = [(s, p, o) for s in chunk for p, o in by_subject[s]]
            try:
                self.store.set_properties(graph)
            except Exception:
                self.write_errors += 1
                self._requeue({(s, p): o for s in subjects[start:] for p, o in by_subject[s]}, oldest)
                raise
            self.writes += 1
            written += len(graph)
        self.triples_written += written
        if oldest is not None:
            self._lag(time.time() - oldest)
        return written

    def _write_descriptions(self, descriptions: dict, pending: dict, oldest: float | None) -> None:
        from ontology.store import LIVE_DEVICE_PREDICATES
        try:
            self.triples_written += self.store.replace_descriptions(list(descriptions.items()),
                                                                   keep=LIVE_DEVICE_PREDICATES)
            self.writes += 1
        except Exception:
            self.write_errors += 1
            with self._lock:
                for subject, graph in descriptions.items():
                    self._descriptions.setdefault(subject, graph)
            self._requeue(pending, oldest)
            raise

    def _requeue(self, unwritten: dict, oldest: float | None) -> None:
        """Put back what a failed write did not store (values that arrived since win)."""
        with self._lock:
            for key, value in unwritten.items():
                self._pending.setdefault(key, value)
            if oldest is not None and (self._oldest_ts is None or oldest < self._oldest_ts):
                self._oldest_ts = oldest

    def stats(self) -> dict[str, float]:
        return {"events": self.events, "coalesced": self.coalesced, "writes": self.writes,
                "triples_written": self.triples_written, "write_errors": self.write_errors,
                "pending": self.pending, "lag_s": round(self.lag_s(), 3),
                "lag_max_s": round(self.lag_max_s, 3)}


def _moved(old: float | None, new: float | None, step: float) -> bool:
    if new is None:
        return False
    return old is None or abs(new - old) >= step


def _moved_relative(old: float | None, new: float | None, fraction: float) -> bool:
    if new is None:
        return False
    return old is None or abs(new - old) >= fraction * max(abs(old), 1.0)


class Flusher:
    """Calls ``buffer.flush()`` every ``interval_s`` on a daemon thread until ``stop()``."""

    def __init__(self, buffer: LiveBuffer, interval_s: float, on_error=None, before_flush=None):
        self.buffer = buffer
        self.interval_s = interval_s
        self.on_error = on_error
        self.before_flush = before_flush
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-graph-flush", daemon=True)

    def start(self) -> "Flusher":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                if self.before_flush is not None:
                    self.before_flush()
                self.buffer.flush()
            except Exception as exc:  # logged by the owner; the next interval tries again
                if self.on_error:
                    self.on_error(exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self.buffer.flush()
