"""The dashboard's JSON views on a stand-in coordinator: CPU of the agent beside the host's,
temperature passed through (None = no sensor), and an alarm for a device without a profile."""
from __future__ import annotations

import time

from cloud_sync.dashboard.views import FleetViews


class _Coordinator:
    def __init__(self, devices):
        self._devices = devices

    def devices(self):
        return self._devices

    def deployments(self, device_id=None):
        return []

    def count_results(self):
        return 0


def _device(device_id, td, cpu=12.5, host=100.0, temp=None):
    return {"device_id": device_id, "online": True, "last_seen": time.time(), "td": td,
            "health": {"process_cpu_percent": cpu, "cpu_percent": host, "temperature_c": temp,
                       "mem": {"rss": 40 * 2**20}, "outbox": {"backlog": 0}, "tasks": {}}}


def test_fleet_rows_and_the_missing_profile_alarm():
    views = FleetViews(_Coordinator([_device("pi", {"er:profileId": "raspberry-pi-5-8gb"}, temp=51.0),
                                     _device("bare", {"title": "bare"})]), activity=None)
    data = views.fleet()
    rows = {r["id"]: r for r in data["devices"]}
    assert rows["pi"]["cpu"] == 12.5 and rows["pi"]["host_cpu"] == 100.0 and rows["pi"]["temp_c"] == 51.0
    assert rows["bare"]["temp_c"] is None and rows["bare"]["profile"] == ""
    messages = [a["message"] for a in data["alarms"]]
    assert len(messages) == 1 and "bare has no device profile" in messages[0] and "--profile auto" in messages[0]


class _LidarCoordinator(_Coordinator):
    """Two sensors' stored records: s1 fine, s2 lost its floor after 40 frames."""

    def __init__(self):
        lidar = {"tasks": [{"name": "walk", "kind": "lidar"}]}
        super().__init__([{**_device("pi-a", {"er:profileId": "raspberry-pi-5-8gb"}), "reported": lidar},
                          {**_device("pi-b", {"er:profileId": "raspberry-pi-5-8gb"}), "reported": lidar}])
        t0 = time.time() - 60
        self.records = {
            "pi-a": [{"type": "health", "sensor": "s1", "frame": 0, "status": "ok", "issues": []}]
            + [{"type": "tracks", "sensor": "s1", "frame": f, "health": "ok", "tracks": []} for f in range(50)],
            "pi-b": [{"type": "tracks", "sensor": "s2", "frame": f, "health": "ok", "tracks": []} for f in range(40)]
            + [{"type": "health", "sensor": "s2", "frame": 40, "status": "blind",
                "issues": ["no points for 10 frames within 8.0 m"]}]
            + [{"type": "tracks", "sensor": "s2", "frame": f, "health": "blind", "tracks": []} for f in range(41, 50)]}
        self.t0 = t0

    def results(self, device=None, task=None, since=None, limit=1000):
        return [{"device_id": device, "task": task, "ts": self.t0 + i, "body": body}
                for i, body in enumerate(self.records[device])][:limit]


def test_lidar_sensor_health_is_shown_per_sensor_and_a_blind_sensor_raises_an_alarm():
    views = FleetViews(_LidarCoordinator(), activity=None)
    health = {h["sensor"]: h for h in views.lidar()["health"]}
    assert health["s1"]["status"] == "ok" and health["s1"]["device"] == "pi-a"
    assert health["s2"]["status"] == "blind" and health["s2"]["issues"] == ["no points for 10 frames within 8.0 m"]
    assert health["s2"]["since"] == views.coordinator.t0 + 40, "since = when the status changed"
    alarms = [a for a in views.fleet()["alarms"] if "LiDAR" in a["message"]]
    assert len(alarms) == 1 and alarms[0]["severity"] == "critical" and alarms[0]["device"] == "pi-b"
    assert "s2" in alarms[0]["message"] and "no points for 10 frames" in alarms[0]["message"]
