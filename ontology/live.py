"""The live fleet graph: coordinator events in, a current graph out.

`FleetGraph(store).attach(coordinator)` registers `on_event` as a coordinator listener. Events
(`.kind`, `.device_id`, `.body`, `.ts`) update the graph in place: a TD registers or replaces a
device (SHACL-checked), state/health overwrite the device's live figures, deploy events keep
deployments current, results only move a per-device/workload summary (written at most every
`summary_interval_s`), and the FL coordinator reports rounds and participation directly.
Live figures (last seen, health, result summaries) are written on change only and in batches
(ontology.coalesce: a heartbeat that changes nothing costs no graph write); a re-sent TD that
is byte-for-byte the registered one and a repeated online/offline state cost none either.
`batch_interval_s` = 0 writes each event's changes at once (tests, tools); the coordinator
batches every second. `stats()` gives the graph lag and the write/skip counters.
The materialised views of ontology.rollups (site status counts, FL metric aggregates, outdated
deployments) are rebuilt when the FleetGraph starts and then kept current by the same handlers,
in the same update as the fact that changes them.
A listener must never break the coordinator, so a bad event is logged and counted, not raised.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from rdflib import Graph, Literal
from rdflib.namespace import XSD

from ontology import describe_events as ev
from ontology import rollups
from ontology.coalesce import CoalesceRules, Flusher, LiveBuffer
from ontology.live_status import StatusBook
from ontology.describe_device import graph_from_thing_description, site_graph
from ontology.ns import (
    ER,
    SCHEMA,
    deployment_iri,
    device_iri,
    fl_round_iri,
    model_iri,
    site_iri,
)
from ontology.shacl import DescriptionRejected

log = logging.getLogger(__name__)
VOCABULARY = Path(__file__).parent / "vocab" / "edge-runtime.ttl"
_TEMPERATURE_KEYS = ("temperature_c", "temp_c", "cpu_temp_c", "soc_temp_c", "temperature")


@dataclass
class _Summary:
    count: int = 0
    latency_sum: float = 0.0
    latency_n: int = 0
    last_ts: float = 0.0
    written_at: float = float("-inf")
    dirty: bool = False


class FleetGraph:
    def __init__(self, store, summary_interval_s: float = 60.0, load_vocabulary: bool = True,
                 rebuild_views: bool = True, batch_interval_s: float = 1.0,
                 rules: CoalesceRules | None = None, writer_id: str | None = None,
                 rollups_writer: Callable[[], bool] | None = None):
        """``writer_id`` and ``rollups_writer``: several coordinator replicas share one graph
        (a SPARQL server), each hearing a share of the traffic. Each then keeps its own result
        summary per device and workload (``…/results/<workload>/by/<writer_id>``: readers sum
        them), and only the replica for which ``rollups_writer()`` is true (the leader, which
        alone times devices out) writes the site status counts."""
        self.store = store
        self.writer_id = writer_id
        self.rollups_writer = rollups_writer
        self._wrote_rollups = rollups_writer is None
        if load_vocabulary:  # labels and comments of our terms become queryable (idempotent)
            store.load_file(VOCABULARY, "turtle")
        self._view_lock = threading.RLock()  # read-modify-write of the materialised views
        if rebuild_views:  # a persisted graph may have been changed while no one kept the views
            rollups.rebuild(store)
        self.summary_interval_s = summary_interval_s
        self.rejected: list[tuple[str, str]] = []   # (device id, why) of refused descriptions
        self.errors: Counter[str] = Counter()       # event kind → handler failures
        self._summaries: dict[tuple[str, str], _Summary] = {}
        self._dirty_summaries: set[tuple[str, str]] = set()   # changed since written (the flusher reads only these)
        self._lock = threading.Lock()
        self.buffer = LiveBuffer(store, rules)
        self.batch_interval_s = batch_interval_s
        self._flusher: Flusher | None = None
        self._registered_td: dict[str, bytes] = {}   # device → digest of the TD in the graph
        self._online: dict[str, bool] = {}           # device → online as last written
        self._known_sites: set[str] = set()
        self._valid_forms: set[bytes] = set()        # TD digests with id and site blanked: SHACL-clean
        self.skipped = {"td": 0, "state": 0}
        self.resynced = 0                            # devices whose online state a resync corrected
        self._book = StatusBook(store) if batch_interval_s > 0 else None   # batched: counts in memory
        self._fl: dict[str, dict[str, Any]] = {}
        self._fl_devices: dict[str, set[str]] = {}

    # ---- wiring --------------------------------------------------------------------------
    def attach(self, coordinator) -> "FleetGraph":
        coordinator.add_listener(self.on_event)
        return self

    def on_event(self, event) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        try:
            if handler is not None:
                handler(event.device_id, event.body or {}, float(event.ts or time.time()))
            elif event.device_id:
                self.seen(event.device_id, event.ts)
            self._written_or_scheduled()
        except DescriptionRejected as exc:
            self.rejected.append((event.device_id, str(exc)))
            log.warning("fleet graph refused %s from %s: %s", event.kind, event.device_id, exc)
        except Exception:
            self.errors[event.kind] += 1
            log.exception("fleet graph could not apply %s event from %s", event.kind, event.device_id)

    # ---- event handlers --------------------------------------------------------------------
    def _written_or_scheduled(self) -> None:
        if self.batch_interval_s <= 0:
            self.buffer.flush()
        elif self._flusher is None:
            with self._lock:
                if self._flusher is None:
                    self._flusher = Flusher(self.buffer, self.batch_interval_s, on_error=self._flush_failed,
                                            before_flush=self._queue_due_summaries).start()

    def _queue_due_summaries(self) -> None:
        """Summaries changed since their last write and due again (no later result may come)."""
        now = time.monotonic()
        with self._lock:
            due = [key for key in self._dirty_summaries
                   if now - self._summaries[key].written_at >= self.summary_interval_s]
        for key in due:
            self._write_summary(key, time.time())   # deferred on purpose: lag counts from now

    def _flush_failed(self, exc: Exception) -> None:
        self.errors["flush"] += 1
        log.error("fleet graph batch write failed (kept for the next try): %s", exc)

    def stats(self) -> dict[str, Any]:
        """Lag (s), pending and written figures, skips, failures: for /metrics and the dashboard."""
        return {**self.buffer.stats(), "skipped_td": self.skipped["td"],
                "skipped_state": self.skipped["state"], "resynced": self.resynced,
                "handler_errors": sum(self.errors.values()),
                "rejected_descriptions": len(self.rejected), **self.store.maintenance_stats()}

    def _on_td(self, device_id: str, body: Mapping[str, Any], ts: float) -> None:
        text = json.dumps(body, sort_keys=True, default=str)
        digest = hashlib.sha1(text.encode()).digest()
        if device_id and self._registered_td.get(device_id) == digest:
            self.skipped["td"] += 1      # a reconnect re-sends the same birth certificate
            self.seen(device_id, ts)
            return
        described_id, graph = graph_from_thing_description(body)
        if device_id and described_id != device_id:
            raise ValueError(f"TD names device {described_id!r} but arrived from {device_id!r}")
        site = body.get("schema:location")
        form = _td_form(text, described_id, site if isinstance(site, str) else None)
        self._replace_device(graph, described_id, validate=form not in self._valid_forms, ts=ts)
        self._valid_forms.add(form)
        if isinstance(site, str) and site not in self._known_sites:
            if not self.store.lookup(f"SELECT ?p WHERE {{ {site_iri(site).n3()} ?p ?o }} LIMIT 1"):
                self.add_site(site)  # a known site keeps its name and region
            self._known_sites.add(site)
        self._registered_td[described_id] = digest
        self.seen(described_id, ts)

    def _on_state(self, device_id: str, body: Mapping[str, Any], ts: float) -> None:
        online = bool(body.get("online"))
        if self._online.get(device_id) is online:
            self.skipped["state"] += 1
            self.seen(device_id, ts)
            return
        self.set_online(device_id, online, ts)

    def _on_resync(self, _device_id: str, body: Mapping[str, Any], ts: float) -> None:
        """The registry's online state after dropped events: write only what differs."""
        for device_id, online in (body.get("online") or {}).items():
            known = device_id in self._online or device_id in self._registered_td
            if known and self._online.get(device_id) is not bool(online):
                self.resynced += 1
                self.set_online(device_id, bool(online), ts)

    def _on_health(self, device_id: str, body: Mapping[str, Any], ts: float) -> None:
        temperature = next((body[k] for k in _TEMPERATURE_KEYS if isinstance(body.get(k), (int, float))), None)
        mem = body.get("mem") if isinstance(body.get("mem"), Mapping) else {}
        used = next((mem[k] for k in ("used_bytes", "used", "rss_bytes") if isinstance(mem.get(k), (int, float))), None)
        cpu = body.get("cpu_percent") if isinstance(body.get("cpu_percent"), (int, float)) else None
        due = self.buffer.health_due(device_id, ts, temperature, cpu, used)
        self.buffer.note(due, ts)
        if due:
            self.buffer.add(ev.health_graph(device_id, ts, temperature, cpu, used), ts)
        self.seen(device_id, ts)

    def _on_deploy(self, device_id: str, body: Mapping[str, Any], ts: float) -> None:
        self.deployment(device_id, body, ts)
        self.seen(device_id, ts)

    def _on_result(self, device_id: str, body: Mapping[str, Any], ts: float) -> None:
        workload = str(body.get("task") or body.get("workload") or body.get("kind") or "result")
        latency = body.get("latency_ms")
        key = (device_id, workload)
        with self._lock:
            summary = self._summaries.setdefault(key, _Summary())
            summary.count += 1
            summary.last_ts = ts
            if isinstance(latency, (int, float)) and not isinstance(latency, bool):
                summary.latency_sum += float(latency)
                summary.latency_n += 1
            summary.dirty = True
            self._dirty_summaries.add(key)
            due = time.monotonic() - summary.written_at >= self.summary_interval_s
        if not body.get("historical"):      # a replay's device time says nothing about lag
            self.buffer.note(due, ts)
        if due:
            self._write_summary(key, ts)

    # ---- direct API (coordinator, FL coordinator, OTA) -------------------------------------
    def register_description(self, td: Mapping[str, Any]) -> str:
        """Add or replace a device from its TD; returns the device id (raises DescriptionRejected)."""
        device_id, graph = graph_from_thing_description(td)
        self._replace_device(graph, device_id)
        return device_id

    def _replace_device(self, graph: Graph, device_id: str, validate: bool = True,
                        ts: float | None = None) -> None:
        """Swap in a device description; a new location moves the device between site counts."""
        location = graph.value(device_iri(device_id), SCHEMA.location)
        if self._book is not None:     # batched: validated now, written with the next batch
            if validate:
                from ontology.shacl import check
                check(graph)
            when = time.time() if ts is None else ts
            moved = self._book.move(device_iri(device_id), relocate=True,
                                    location=str(location) if location is not None else None)
            self.buffer.add_description(device_iri(device_id), graph, when)
            self.buffer.add(self._site_counts(moved), when)
            return
        with self._view_lock:
            before = rollups.device_status(self.store, device_iri(device_id))
            self.store.replace_device(graph, device_id, validate)  # keeps the live status (online)
            after = (before[0], str(location) if location is not None else None)
            moved = rollups.site_status_change(self.store, before, after)
            if len(moved):
                self.store.set_properties(moved)

    def register_model(self, path, model_id: str | None = None, **details) -> str:
        """Describe a .tflite/.onnx file (task=, version=, accuracy=, requires_sensor=) and add or
        replace it in the graph (SHACL-checked); returns the model id."""
        from ontology.describe_model import describe_model_file
        model_id = model_id or Path(path).stem
        with self._view_lock:
            self.store.replace_description(model_iri(model_id), describe_model_file(path, model_id, **details))
            rollups.refresh_model_versions(self.store)
        return model_id

    def add_site(self, site_id: str, name: str | None = None, parent: str | None = None) -> None:
        self.store.replace_description(site_iri(site_id), site_graph(site_id, name, parent), validate=False)

    def _site_counts(self, moved):
        """The site-count triples of a status move, if this writer keeps the counts. A replica
        that becomes the writer reloads the counts from the graph first (the previous writer
        saw timeouts this one did not)."""
        if self.rollups_writer is None:
            return moved
        if not self.rollups_writer():
            self._wrote_rollups = False
            return ()
        if not self._wrote_rollups:
            self._wrote_rollups = True
            self._book.reload()
        return moved

    def seen(self, device_id: str, ts) -> None:
        """Traffic from a device: er:lastSeen moves when it is `seen_resolution_s` behind."""
        when = float(ts) if isinstance(ts, (int, float)) else ev.utc(ts).timestamp()
        if self.buffer.seen_due(device_id, when):
            self.buffer.add(((device_iri(device_id), ER.lastSeen, Literal(ev.utc(when), datatype=XSD.dateTime)),),
                            when)

    def set_online(self, device_id: str, online: bool, ts) -> None:
        graph = ev.status_graph(device_id, online, ts, ts)
        when = float(ts) if isinstance(ts, (int, float)) else ev.utc(ts).timestamp()
        if self._book is not None:     # batched: status and site counts in the next update
            graph += self._site_counts(self._book.move(device_iri(device_id), online=bool(online)))
            self.buffer.add(graph, when)
            self._online[device_id] = bool(online)
            self.buffer.mark_seen(device_id, when)
            return
        with self._view_lock, self.buffer.exclusive():   # a batched older lastSeen must not win
            self.buffer.discard(device_iri(device_id), ER.lastSeen)
            before = rollups.device_status(self.store, device_iri(device_id))
            graph += rollups.site_status_change(self.store, before, (bool(online), before[1]))
            self.store.set_properties(graph)
            self._online[device_id] = bool(online)
        self.buffer.mark_seen(device_id, when)

    def deployment(self, device_id: str, body: Mapping[str, Any], ts) -> str:
        """Record a deployment state from a deploy message body (state, deployment/job, model, error)."""
        model = body.get("model_id") or body.get("model")
        if not model:
            raise ValueError("deploy event has no 'model' / 'model_id': cannot link the deployment")
        dep_id = str(body.get("deployment_id") or body.get("deployment") or body.get("job") or f"{device_id}--{model}")
        graph = ev.deployment_graph(dep_id, str(model), device_id, str(body.get("state", "queued")), ts,
                                    detail=body.get("error") or body.get("detail"))
        with self._view_lock:
            self.store.replace_description(deployment_iri(dep_id), graph)
            rollups.mark_if_outdated(self.store, deployment_iri(dep_id))
        return dep_id

    def fl_round(self, run_id: str, round_number: int, strategy: str | None = None) -> None:
        self.store.add_graph(ev.fl_round_graph(run_id, round_number, strategy), validate=False)
        with self._lock:
            state = self._fl.setdefault(run_id, {"round": -1, "participants": 0, "strategy": strategy})
            if round_number >= state["round"]:
                if round_number > state["round"]:
                    self._fl_devices[run_id] = set()
                state.update(round=int(round_number), updated=time.time(),
                             participants=len(self._fl_devices.get(run_id, ())),
                             strategy=strategy or state.get("strategy"))

    def fl_state(self) -> dict[str, dict[str, Any]]:
        """run → latest round, its participants so far, strategy (for /metrics and the dashboard)."""
        with self._lock:
            return {run: dict(state) for run, state in self._fl.items()}

    def fl_participation(self, run_id: str, round_number: int, device_id: str,
                         metrics: Mapping[str, float], ts=None) -> None:
        """A device's update arrived in a round: link it and record its numeric metrics (and move
        the round's metric aggregates at the device's current place)."""
        values = ev.numeric_metrics(dict(metrics))
        with self._lock:
            state = self._fl.get(run_id)
            if state is not None and state["round"] == round_number:
                joined = self._fl_devices.setdefault(run_id, set())
                joined.add(device_id)             # a re-sent update is one participant
                state["participants"] = len(joined)
        with self._view_lock:
            place = rollups.device_status(self.store, device_iri(device_id))[1]
            graph = ev.fl_participation_graph(run_id, round_number, device_id, values, ts, place=place)
            links = Graph()
            for triple in graph.triples((None, ER.participatedIn, None)):
                graph.remove(triple)
                links.add(triple)
            observations = {m: ev.observation_iri(run_id, round_number, device_id, m) for m in values}
            graph += rollups.metric_change(self.store, str(fl_round_iri(run_id, round_number)),
                                           observations, values, place)
            if place is None and observations:  # a re-sent value from a device that lost its location
                self.store.update(" ;\n".join(f"DELETE WHERE {{ {obs.n3()} {ER.participantPlace.n3()} ?place }}"
                                               for obs in observations.values()))
            self.store.add_graph(links, validate=False)   # a device keeps every round it joined
            self.store.set_properties(graph)              # a re-sent metric replaces its value

    def flush(self) -> None:
        """Write every pending figure and result summary now (call on shutdown)."""
        with self._lock:
            dirty = list(self._dirty_summaries)
        for key in dirty:
            self._write_summary(key, time.time())
        self.buffer.flush()

    def close(self) -> None:
        """Stop the batch writer after a last flush."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.stop()
        self.flush()

    def _write_summary(self, key: tuple[str, str], ts: float) -> None:
        with self._lock:
            s = self._summaries[key]
            s.written_at = time.monotonic()
            s.dirty = False
            self._dirty_summaries.discard(key)
            mean = s.latency_sum / s.latency_n if s.latency_n else None
            graph = ev.result_summary_graph(key[0], key[1], s.count, s.last_ts, mean, writer=self.writer_id)
        self.buffer.add(graph, ts)   # single-valued properties: merged with later changes


def _td_form(text: str, device_id: str, site: str | None) -> bytes:
    """Digest of a TD's text with its device id and site blanked out: two TDs of one form build
    graphs that differ only in those names, so SHACL (≈25 ms a TD, 4 min for 10,000 births) runs
    once per form. Only whole JSON strings and '/'-separated path segments are blanked, never
    parts of numbers or words, so a TD with a different figure is a different form."""
    for name, mark in ((device_id, "\x00device"), (site, "\x00site")):
        if name:
            quoted = json.dumps(name)[1:-1]
            for left, right in (('"', '"'), ('"', "/"), ("/", '"'), ("/", "/")):
                text = text.replace(f"{left}{quoted}{right}", f"{left}{mark}{right}")
    return hashlib.sha1(text.encode()).digest()
