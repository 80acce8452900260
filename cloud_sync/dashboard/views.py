"""JSON views of the fleet for the dashboard, assembled from the coordinator's store,
the cloud-side activity log and the fleet graph.

Views only read; they never block ingest (the store reads on its own WAL connection).
Task records are found by the task's *kind* (from the device's reported config), so a
fleet may name its tasks as it likes.
"""
from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from cloud_sync.dashboard.activity import ActivityLog
from cloud_sync.lidar.sensor_health import lidar_sensor_health

BACKLOG_ALARM = 500          # results waiting in a device's outbox
RECENT = 200


def task_kinds(devices: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(device, task name) -> task kind, from each device's reported config."""
    kinds = {}
    for device in devices:
        reported = (device.get("reported") or {}).get("config") or device.get("reported") or {}
        for task in reported.get("tasks") or []:
            if isinstance(task, dict) and "name" in task:
                kinds[(device["device_id"], task["name"])] = task.get("kind", task["name"])
    return kinds


class FleetViews:
    def __init__(self, coordinator, activity: ActivityLog, graph=None):
        self.coordinator = coordinator
        self.activity = activity
        self.graph = graph

    def routes(self) -> dict[str, Any]:
        return {"/api/fleet": self.fleet, "/api/device": self.device, "/api/das": self.das,
                "/api/lidar": self.lidar, "/api/fl": self.fl, "/api/edvit": self.edvit,
                "/api/device-deployments": self.deployments, "/api/queries": self.queries,
                "/api/rejected": self.rejected}

    # ------------------------------------------------------------------ fleet and devices
    def fleet(self, _rest: str = "") -> dict[str, Any]:
        devices = self.coordinator.devices()
        rows = [self._device_row(d) for d in devices]
        return {"devices": rows, "alarms": self.alarms(rows),
                "results_total": self.coordinator.count_results()}

    @staticmethod
    def _device_row(device: dict[str, Any]) -> dict[str, Any]:
        health = device.get("health") or {}
        outbox = health.get("outbox") or {}
        mem = health.get("mem") or {}
        tasks = health.get("tasks") or {}
        td = device.get("td") or {}
        profile = (td.get("profile") or {}) if isinstance(td.get("profile"), dict) else {}
        return {
            "id": device["device_id"], "online": device["online"], "last_seen": device.get("last_seen"),
            "profile": profile.get("id") or td.get("er:profile") or _profile_from_td(td),
            "tasks_summary": "; ".join(_task_summary(name, status) for name, status in tasks.items()),
            "backlog": outbox.get("backlog"), "dropped": outbox.get("dropped"),
            "cpu": health.get("process_cpu_percent"), "host_cpu": health.get("cpu_percent"),
            "mem_mb": (mem.get("rss") or 0) / 2**20 if mem.get("rss") else None,
            "temp_c": health.get("temperature_c"),
        }

    def alarms(self, rows: list[dict[str, Any]]) -> list[dict[str, str]]:
        found = []
        for row in rows:
            if not row["online"]:
                found.append({"severity": "critical", "device": row["id"],
                              "message": f"{row['id']} is offline (last seen "
                                         f"{_age(row['last_seen'])})"})
            if (row["backlog"] or 0) >= BACKLOG_ALARM:
                found.append({"severity": "warning", "device": row["id"],
                              "message": f"{row['id']}: outbox backlog {row['backlog']} and growing"})
            if row["online"] and not row["profile"]:
                found.append({"severity": "warning", "device": row["id"],
                              "message": f"{row['id']} has no device profile: the fleet graph refuses its "
                                         f"description (no class, RAM, storage), so SPARQL answers leave it "
                                         f"out; restart its agent with --profile auto"})
            if row["dropped"]:
                found.append({"severity": "warning", "device": row["id"],
                              "message": f"{row['id']}: {row['dropped']} results dropped by the outbox policy"})
        found.extend(self._lidar_alarms())
        for job in self.coordinator.deployments():
            if job["state"] in ("rolled_back", "failed", "rejected"):
                found.append({"severity": "warning", "device": job["device_id"],
                              "message": f"deployment {job['job']} on {job['device_id']}: {job['state']}"
                                         f" ({(job.get('body') or {}).get('reason', '')})"})
        return found

    def device(self, device_id: str) -> dict[str, Any]:
        device = self.coordinator.device(device_id)
        if device is None:
            raise KeyError(f"device {device_id!r}")
        history = [{"ts": h["ts"], "cpu": h["body"].get("process_cpu_percent"),
                    "host_cpu": h["body"].get("cpu_percent"), "temp_c": h["body"].get("temperature_c"),
                    "mem_mb": ((h["body"].get("mem") or {}).get("rss") or 0) / 2**20,
                    "backlog": (h["body"].get("outbox") or {}).get("backlog")}
                   for h in self.coordinator.health_history(device_id, limit=RECENT)]
        return {"id": device_id, "online": device["online"], "td": device.get("td"),
                "health": history, "reported": device.get("reported"),
                "deployments": [_deployment_row(j) for j in self.coordinator.deployments(device_id)]}

    def deployments(self, _rest: str = "") -> dict[str, Any]:
        return {"deployments": [_deployment_row(j) for j in reversed(self.coordinator.deployments())]}

    def rejected(self, reason: str = "") -> dict[str, Any]:
        """Refused messages: totals per reason, and the newest dead letters (of ``reason``)."""
        return {"counts": self.coordinator.rejection_counts(),
                "this_run": self.coordinator.stats()["rejected"],
                "rejected": self.coordinator.rejected(reason or None, limit=RECENT)}

    # ------------------------------------------------------------------ workloads
    def _results_of_kind(self, kind: str, limit: int = 500) -> list[dict[str, Any]]:
        devices = self.coordinator.devices()
        names = {(d, n) for (d, n), k in task_kinds(devices).items() if k == kind}
        since = time.time() - 3600
        out = []
        for device_id, name in sorted(names):
            out.extend(self.coordinator.results(device=device_id, task=name, since=since, limit=100_000)[-limit:])
        return out

    def das(self, _rest: str = "") -> dict[str, Any]:
        records = self._results_of_kind("das")
        events, minutes, waterfall = [], [], None
        for r in records:
            body, kind = r["body"], r["body"].get("type")
            if kind == "vehicle":
                events.append({"ts": r["ts"], "device": r["device_id"], **body})
            elif kind == "minute":
                minutes.append({"device": r["device_id"], **body})
            elif kind == "waterfall":
                waterfall = body
        return {"devices": sorted({r["device_id"] for r in records}), "vehicles_total": len(events),
                "events": events[-50:][::-1], "per_minute": minutes[-30:][::-1], "waterfall": waterfall}

    def lidar(self, _rest: str = "") -> dict[str, Any]:
        latest = self._latest_lidar()
        if latest:
            return {k: latest[0].get(k, []) for k in ("tracks", "sensors", "health")} | \
                {"bounds": latest[0].get("bounds"), "links": latest[0].get("links", 0)}
        tracks: dict[tuple[str, int], list] = defaultdict(list)
        records = self._results_of_kind("lidar")
        for r in records:
            for t in r["body"].get("tracks") or []:
                if "x" in t and "y" in t:
                    tracks[(r["device_id"], t.get("id", 0))].append([t["x"], t["y"]])
        return {"tracks": [{"id": i, "points": pts[-100:]} for i, pts in enumerate(tracks.values())],
                "sensors": [], "bounds": None, "health": lidar_sensor_health(records)}

    def _latest_lidar(self) -> list[dict[str, Any]]:
        """The demo's fused LiDAR view (tracks, links, health), when one is being recorded."""
        return self.activity.recent("lidar", limit=1) if self.activity is not None else []

    def _lidar_alarms(self) -> list[dict[str, str]]:
        """A sensor that is not 'ok' (no floor, implausible background, blind) is an alarm:
        a tracker that sees nobody must say why rather than report an empty walkway."""
        latest = self._latest_lidar()
        health = latest[0].get("health", []) if latest else lidar_sensor_health(self._results_of_kind("lidar"))
        return [{"severity": "critical" if h["status"] == "blind" else "warning", "device": h["device"],
                 "message": f"LiDAR {h['sensor']} on {h['device']} is {h['status']}: "
                            + ("; ".join(h["issues"]) or "no reason given")}
                for h in health if h["status"] != "ok"]

    def fl(self, _rest: str = "") -> dict[str, Any]:
        rounds = self.activity.recent("fl", limit=RECENT)
        return {"rounds": rounds, "bytes_total": sum(r.get("bytes", 0) for r in rounds)}

    def edvit(self, _rest: str = "") -> dict[str, Any]:
        requests = self.activity.recent("edvit", limit=50)[::-1]
        return {"requests": requests, "partial": sum(1 for r in requests if r.get("partial"))}

    # ------------------------------------------------------------------ SPARQL console
    def queries(self, _rest: str = "") -> dict[str, Any]:
        from ontology import queries as library

        out = []
        for q in library.list_queries():
            try:
                text = library.render(q.name, **self._example_params(q))
            except (library.QueryParamError, ValueError):
                text = q.text
            out.append({"name": q.name, "description": q.description, "sparql": text})
        return {"queries": out}

    def _example_params(self, query) -> dict[str, Any]:
        """Fill required parameters with values from this fleet, so every canned query runs as shown."""
        devices = self.coordinator.devices()
        examples = {"device": devices[0]["device_id"] if devices else "demo-device",
                    "since": time.time() - 3600}
        return {p.name: examples[p.name] for p in query.params if p.required and p.name in examples}


def _profile_from_td(td: dict[str, Any]) -> str:
    for key in ("er:profileId", "profileId", "er:profile"):
        if td.get(key):
            return str(td[key])
    return ""


def _task_summary(name: str, status: Any) -> str:
    if not isinstance(status, dict):
        return name
    model = status.get("model") or status.get("model_path") or ""
    backend = status.get("backend") or ""
    provider = status.get("provider") or ""
    detail = " / ".join(str(x).rsplit("/", 1)[-1] for x in (model, backend, provider) if x)
    return f"{name} ({detail})" if detail else name


def _deployment_row(job: dict[str, Any]) -> dict[str, Any]:
    body = job.get("body") or {}
    return {"job": job["job"], "device": job["device_id"], "state": job["state"], "ts": job["ts"],
            "model": body.get("model") or body.get("model_id") or "",
            "detail": body.get("reason") or body.get("detail") or "", "updated": job["ts"]}


def _age(ts: float | None) -> str:
    return "never" if not ts else f"{time.time() - ts:.0f} s ago"
