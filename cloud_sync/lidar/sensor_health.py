"""The newest health of each LiDAR sensor, folded from the records its task sends.

A sensor task reports ``status`` (ok / degraded / blind) on every ``tracks`` record and a
``health`` record with the reasons whenever the status or its reasons change
(``edge_runtime.lidar.task``). The dashboard and its alarms need only the newest of each per
(device, sensor): a sensor with no floor or a blind mount must be visible as such, never as
an empty walkway.
"""
from __future__ import annotations

from typing import Any, Iterable

STATUSES = ("ok", "degraded", "blind")


class SensorHealthBook:
    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, device_id: str, body: dict[str, Any], ts: float | None = None) -> None:
        kind = body.get("type")
        if kind not in ("tracks", "health"):
            return
        status = body.get("status") if kind == "health" else body.get("health")
        if status not in STATUSES:
            return                                   # an older agent, or a malformed record
        key = (device_id, str(body.get("sensor") or "?"))
        row = self._rows.setdefault(key, {"device": key[0], "sensor": key[1], "status": status,
                                          "issues": [], "since": ts, "frame": None})
        if kind == "health":
            issues = body.get("issues")
            row["issues"] = [str(i)[:300] for i in issues[:10]] if isinstance(issues, list) else []
        if status != row["status"]:
            row["since"] = ts
            if kind == "tracks":                     # a status change whose reasons are not here yet
                row["issues"] = []
        row["status"] = status
        row["frame"] = body.get("frame", row["frame"])

    def rows(self) -> list[dict[str, Any]]:
        return [dict(r) for _, r in sorted(self._rows.items())]


def lidar_sensor_health(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored lidar results (oldest first, as the store returns them) -> one row per sensor."""
    book = SensorHealthBook()
    for r in results:
        book.add(r["device_id"], r.get("body") or {}, r.get("ts"))
    return book.rows()
