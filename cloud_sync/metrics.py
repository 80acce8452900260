"""Prometheus metrics of the coordinator: ``/metrics`` in the text exposition format.

    metrics = CoordinatorMetrics(coordinator, fleet_graph).attach()
    server.add_route("/metrics", metrics.endpoint, summary="Prometheus metrics")
    metrics.snapshot()      # the same figures as a dict, for the dashboard

Why a collector rather than counters bumped on the hot path: ingest already counts what
it does (``Coordinator.stats()``, ``FleetGraph.stats()``); reading those at scrape time
costs the 10,000-message-a-second path nothing. Two things are not counted there and are
observed from the coordinator's event stream (its own thread, never the network one):
the ingest latency of each stored live result (device timestamp → committed and
dispatched; replays flagged ``historical`` are left out, their age is not latency) and
the outbox backlog each device reports in its heartbeat.

Every family is prefixed ``cloud_sync_``; see docs/scaling.md for what each means.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RATE_WINDOW_S = 10.0


class CoordinatorMetrics:
    def __init__(self, coordinator, fleet_graph=None, registry: CollectorRegistry | None = None):
        self.coordinator = coordinator
        self.fleet_graph = fleet_graph
        self.registry = registry or CollectorRegistry()
        self.ingest_latency = Histogram(
            "cloud_sync_ingest_latency_seconds",
            "device timestamp to stored and dispatched, live results (historical replays excluded)",
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self._backlog: dict[str, int] = {}
        self._lock = threading.Lock()
        self._rate_samples: list[tuple[float, int]] = []
        self.registry.register(_Collector(self))

    def attach(self) -> "CoordinatorMetrics":
        self.coordinator.add_listener(self.on_event)
        return self

    def detach(self) -> None:
        self.coordinator.remove_listener(self.on_event)

    # ----- observed from the event stream -----------------------------------------------------
    def on_event(self, event) -> None:
        body = event.body or {}
        if event.kind == "result":
            if not body.get("historical") and isinstance(event.ts, (int, float)):
                self.ingest_latency.observe(max(0.0, time.time() - float(event.ts)))
        elif event.kind == "health":
            outbox = body.get("outbox")
            backlog = outbox.get("backlog") if isinstance(outbox, dict) else None
            if isinstance(backlog, int) and not isinstance(backlog, bool) and 0 <= backlog < 2**53:
                with self._lock:
                    self._backlog[event.device_id] = backlog

    # ----- figures ------------------------------------------------------------------------------
    def ingest_rate(self) -> float:
        """Messages received per second over the last RATE_WINDOW_S (sampled at each call)."""
        now, received = time.monotonic(), int(self.coordinator.received)
        with self._lock:
            self._rate_samples.append((now, received))
            while len(self._rate_samples) > 2 and now - self._rate_samples[1][0] >= RATE_WINDOW_S:
                self._rate_samples.pop(0)
            first_t, first_n = self._rate_samples[0]
        return (received - first_n) / (now - first_t) if now > first_t else 0.0

    def device_counts(self) -> dict[str, int]:
        book = self.coordinator.writer.book
        with book.lock:
            statuses = list(book.status.values())
        online = sum(1 for s in statuses if s.online)
        return {"online": online, "offline": len(statuses) - online}

    def backlog(self) -> dict[str, int]:
        with self._lock:
            values = list(self._backlog.values())
        return {"total": sum(values), "max": max(values, default=0),
                "devices_with_backlog": sum(1 for v in values if v > 0), "reporting": len(values)}

    def snapshot(self) -> dict[str, Any]:
        """Everything /metrics says, as one dict (the dashboard's fleet-scale panel)."""
        stats = self.coordinator.stats()
        out = {"ingest": {**{k: stats.get(k) for k in ("received", "stored", "duplicates", "batches",
                                                        "pending", "events_dropped")},
                          "rate_per_s": round(self.ingest_rate(), 1),
                          "rejected": dict(stats.get("rejected") or {})},
               "receipts": {k[len("receipts_"):]: v for k, v in stats.items() if k.startswith("receipts_")},
               "event_queue": _event_queue_depth(self.coordinator),
               "devices": self.device_counts(), "outbox_backlog": self.backlog()}
        if self.fleet_graph is not None:
            out["graph"] = self.fleet_graph.stats()
            out["fl"] = self.fleet_graph.fl_state()
        return out

    # ----- serving ------------------------------------------------------------------------------
    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    async def endpoint(self, request) -> Any:
        """Prometheus metrics (text exposition format 0.0.4)."""
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import Response
        return Response(await run_in_threadpool(self.exposition),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def json_endpoint(self, request) -> Any:
        """Fleet-scale figures as JSON (what /metrics says; for the dashboard)."""
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse
        return JSONResponse(await run_in_threadpool(self.snapshot))

    def handle(self, method: str, path_qs: str, headers, body) -> tuple[int, dict[str, str], bytes]:
        """The same, as a plain ``(method, path, headers, body)`` route handler."""
        if method not in ("GET", "HEAD"):
            return 405, {"Allow": "GET", "Content-Type": "text/plain"}, b"GET /metrics only\n"
        return 200, {"Content-Type": CONTENT_TYPE_LATEST}, self.exposition()


def _event_queue_depth(coordinator) -> int:
    return coordinator.events.pending


class _Collector:
    """Reads the coordinator's and the graph's own counters at scrape time."""

    def __init__(self, metrics: CoordinatorMetrics):
        self.metrics = metrics

    def collect(self):
        m = self.metrics
        stats = m.coordinator.stats()
        yield _counter("messages_received", "MQTT messages the coordinator received", stats["received"])
        yield _counter("results_stored", "results committed (each message id once)", stats["stored"])
        yield _counter("results_duplicate", "results received again and ignored (same id)", stats["duplicates"])
        yield _counter("ingest_batches", "store transactions of the ingest writer", stats["batches"])
        yield _counter("events_dropped", "events not delivered to listeners (queue full)",
                       stats.get("events_dropped", 0))
        yield _counter("heartbeats_coalesced", "heartbeats superseded by a newer one before they were written",
                       stats.get("heartbeats_coalesced", 0))
        yield _counter("ingest_backpressure_waits", "times the network thread paused reading: ingest queue full",
                       stats.get("backpressure_waits", 0))
        yield _counter("ingest_backpressure_seconds", "seconds the network thread paused reading (broker holds the rest)",
                       stats.get("backpressure_s", 0.0))
        yield _counter("receipts_sent", "receipt messages sent to devices (end-to-end acks)",
                       stats.get("receipts_sent", 0))
        yield _counter("receipts_unsent", "committed results whose receipt could not be sent (devices resend)",
                       stats.get("receipts_unsent", 0))
        rejected = CounterMetricFamily("cloud_sync_rejected", "messages refused, by reason", labels=["reason"])
        for reason, count in sorted((stats.get("rejected") or {}).items()):
            rejected.add_metric([reason], count)
        yield rejected
        yield _gauge("ingest_rate_messages_per_second", "received per second, last 10 s", m.ingest_rate())
        queue = GaugeMetricFamily("cloud_sync_queue_depth", "items waiting, by queue", labels=["queue"])
        queue.add_metric(["ingest"], stats.get("pending", 0))
        queue.add_metric(["events"], _event_queue_depth(m.coordinator))
        devices = GaugeMetricFamily("cloud_sync_devices", "known devices by state", labels=["state"])
        for state, count in m.device_counts().items():
            devices.add_metric([state], count)
        yield queue
        yield devices
        backlog = m.backlog()
        yield _gauge("device_outbox_backlog_messages", "sum of the outbox backlogs devices report",
                     backlog["total"])
        yield _gauge("device_outbox_backlog_max_messages", "largest backlog one device reports", backlog["max"])
        yield _gauge("devices_with_backlog", "devices reporting a non-empty outbox",
                     backlog["devices_with_backlog"])
        if m.fleet_graph is not None:
            yield from _graph_families(m.fleet_graph)


def _graph_families(fleet_graph):
    g = fleet_graph.stats()
    yield _gauge("graph_lag_seconds", "how far the fleet graph is behind its events", g["lag_s"])
    yield _gauge("graph_lag_max_seconds", "worst graph lag since start", g["lag_max_s"])
    yield _gauge("graph_pending_changes", "live-figure changes not yet written", g["pending"])
    yield _counter("graph_writes", "batched SPARQL updates of live figures", g["writes"])
    yield _counter("graph_triples_written", "triples those updates wrote", g["triples_written"])
    yield _counter("graph_coalesced", "figures that needed no write (unchanged)", g["coalesced"])
    yield _counter("graph_skipped_births", "re-sent identical TDs not rewritten", g["skipped_td"])
    yield _counter("graph_resynced", "devices whose online state a resync after dropped events corrected",
                   g["resynced"])
    if "compactions" in g:
        yield _counter("graph_compactions", "rebuilds of the in-memory graph copy (frees replaced figures)",
                       g["compactions"])
        yield _gauge("graph_compaction_seconds", "how long the last rebuild took", g["compaction_s"])
    errors = CounterMetricFamily("cloud_sync_graph_errors", "graph failures by kind", labels=["kind"])
    errors.add_metric(["handler"], g["handler_errors"])
    errors.add_metric(["write"], g["write_errors"])
    errors.add_metric(["rejected_description"], g["rejected_descriptions"])
    errors.add_metric(["compaction"], g.get("compaction_errors", 0))
    yield errors
    rounds = GaugeMetricFamily("cloud_sync_fl_round", "latest FL round per run", labels=["run", "strategy"])
    participants = GaugeMetricFamily("cloud_sync_fl_round_participants",
                                     "devices that reported in the latest round", labels=["run"])
    for run, state in sorted(fleet_graph.fl_state().items()):
        rounds.add_metric([run, state.get("strategy") or ""], state["round"])
        participants.add_metric([run], state["participants"])
    yield rounds
    yield participants


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"cloud_sync_{name}", doc, value=float(value or 0))


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"cloud_sync_{name}", doc, value=float(value or 0))
