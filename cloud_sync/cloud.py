"""The whole cloud side in one object: coordinator + fleet graph + activity log + dashboard.

``cloud-sync coordinator`` and ``cloud-sync demo`` both run a ``CloudStack``; tests use it
in-process. Each part stays its own concern (ingest in ``coordinator``, the graph in
``ontology``, HTTP in ``dashboard``); this module only wires them together.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cloud_sync.coordinator import Coordinator
from cloud_sync.dashboard.activity import ActivityLog
from cloud_sync.dashboard.live_feed import LiveFeed
from cloud_sync.dashboard.server import DashboardServer
from cloud_sync.dashboard.views import FleetViews
from cloud_sync.security.tokens import TokenError, TokenStore

log = logging.getLogger(__name__)


class CloudStack:
    def __init__(self, broker_url: str | None, data_dir: Path | str, *, http_host: str = "127.0.0.1",
                 http_port: int = 0, graph_location: str | None = None, ota: bool = True,
                 **coordinator_options: Any):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Writes over HTTP (deploy, SPARQL update) need a bearer token from this store; the stack
        # issues its own "coordinator" token at each start into a 0600 file (never on stdout,
        # where logs and terminals keep it); named tokens: 'cloud-sync credentials token'.
        self.tokens = TokenStore(self.data_dir / "security" / "http_tokens.json")
        self.write_token_path = self.tokens.issue_to_file(
            "coordinator", self.data_dir / "security" / "http_write_token")
        self.write_token = self.write_token_path.read_text().strip()
        self.with_ota = ota
        self.ota = None
        self.coordinator = Coordinator(broker_url, self.data_dir, **coordinator_options)
        self.feed = LiveFeed()
        self.activity = ActivityLog(self.data_dir, notify=self.feed.publish)
        self.graph_location = graph_location or str(self.data_dir / "graph")
        self.graph_store = None
        self.fleet_graph = None
        self.http_host, self.http_port = http_host, http_port
        self.server: DashboardServer | None = None
        self.query_pool = None
        self.metrics = None

    @property
    def broker_url(self) -> str | None:
        return self.coordinator.broker_url

    @property
    def dashboard_url(self) -> str | None:
        return self.server.url if self.server else None

    def start(self, wait_s: float = 15.0) -> "CloudStack":
        self._open_graph()
        self.coordinator.add_listener(self._forward_event)
        self.coordinator.start(wait_s=wait_s)
        views = FleetViews(self.coordinator, self.activity, self.graph_store)
        self.server = DashboardServer(views.routes(), self.feed, self.http_host, self.http_port,
                                      authorise=self._authorised)
        from cloud_sync.metrics import CoordinatorMetrics     # issue 16: Prometheus + dashboard figures
        self.metrics = CoordinatorMetrics(self.coordinator, self.fleet_graph).attach()
        self.server.add_route("/metrics", self.metrics.endpoint, summary="Prometheus metrics")
        self.server.add_route("/api/scale", self.metrics.json_endpoint, summary="fleet-scale figures (JSON)")
        if self.graph_store is not None:
            from ontology.endpoint import SparqlEndpoint
            from ontology.query_pool import QueryPool
            # Queries from outside run in worker processes: one that crashes the engine costs a
            # worker, not ingest (issue 15). Updates need the token and stay in-process.
            self.query_pool = QueryPool(self.graph_location)
            endpoint = SparqlEndpoint(self.graph_store, update_token=self.write_token,
                                      pool=self.query_pool)
            for method in ("GET", "POST"):
                self.server.mount(method, "/sparql", endpoint.handle,
                                  summary="SPARQL 1.1 query (and update with the token)")
        if self.with_ota:
            from cloud_sync.ota.service import attach_ota
            self.ota = attach_ota(self.coordinator, dashboard=self.server, graph=self.graph_store,
                                  http_host=self.http_host)
        self.server.start()
        log.info("dashboard at %s", self.server.url)
        return self

    def _authorised(self, headers: dict[str, str]) -> bool:
        try:
            self.tokens.require(headers)
            return True
        except TokenError:
            return False

    def _open_graph(self) -> None:
        """The fleet graph is optional: without the cloud extra the coordinator still ingests."""
        try:
            from ontology.live import FleetGraph
            from ontology.store import GraphStore
        except ImportError as exc:
            log.warning("fleet graph disabled (%s); install the 'cloud' extra", exc)
            return
        # kept on disk, queried from an in-memory copy (ontology/store_mirror.py: 1.5–5× faster)
        self.graph_store = GraphStore.open(self.graph_location, memory_copy=True)
        self.fleet_graph = FleetGraph(self.graph_store).attach(self.coordinator)

    def _forward_event(self, event) -> None:
        """Coordinator event -> a small summary for browsers (never the whole payload)."""
        if event.kind == "resync":      # the graph's repair, not device activity
            return
        summary = {"kind": event.kind, "device": event.device_id, "ts": event.ts}
        if event.kind == "result":
            summary["task"] = (event.body or {}).get("task")
        elif event.kind == "state":
            summary["online"] = (event.body or {}).get("online")
        self.feed.publish(summary)

    def stop(self) -> None:
        if self.ota:
            self.ota.stop()
        if self.server:
            self.server.stop()
        if self.query_pool is not None:
            self.query_pool.close()
        self.coordinator.stop()
        if self.fleet_graph is not None:
            self.fleet_graph.close()     # last batch written, batch writer stopped
        self.activity.close()

    def __enter__(self) -> "CloudStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
