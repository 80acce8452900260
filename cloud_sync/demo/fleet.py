"""The demo fleet: which simulated boards exist and which workloads each one runs.

Devices take their profile from ``device_profiles`` (real boards); workloads are handed
out by role so that every landed workload runs somewhere, the multi-device ones (LiDAR
sensors, ED-ViT sub-models, FL clients) on several devices.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# (device id, profile id, roles). Roles name workloads in cloud_sync.demo.workloads.
BASE_FLEET: list[tuple[str, str, tuple[str, ...]]] = [
    ("pi4-a", "raspberry-pi-4b-4gb", ("das", "lidar", "fl")),
    ("pi4-b", "raspberry-pi-4b-8gb", ("lidar", "edvit", "fl")),
    ("pi5", "raspberry-pi-5-8gb", ("lidar", "edvit", "online", "fl")),
    ("orin", "jetson-orin-nano", ("edvit", "fl")),
    ("m4", "arduino-nano-33-ble-sense", ("mcu",)),
    ("x86", "generic-x86-64", ("das", "online", "fl", "ota")),
]


@dataclass
class DemoDevice:
    device_id: str
    profile: str
    roles: tuple[str, ...]
    tasks: list[dict[str, Any]] = field(default_factory=list)

    def config(self) -> dict[str, Any]:
        return {"profile": self.profile, "tasks": self.tasks}


def build_fleet(count: int) -> list[DemoDevice]:
    """``count`` devices: the base fleet, then more boards cycling through it."""
    if count < 1:
        raise ValueError("the demo needs at least one device (--devices 1 or more)")
    fleet = []
    for i in range(count):
        device_id, profile, roles = BASE_FLEET[i % len(BASE_FLEET)]
        if i >= len(BASE_FLEET):
            device_id = f"{device_id}-{i // len(BASE_FLEET) + 1}"
        fleet.append(DemoDevice(device_id, profile, roles))
    return fleet
