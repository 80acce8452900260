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
