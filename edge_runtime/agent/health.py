"""What the agent says about itself: heartbeat bodies and the WoT Thing Description.

Heartbeats answer the operator's first questions without logging in to the device:
is it alive, is it overloaded or hot, is data piling up (outbox backlog, drops, last
successful sync), which versions run, and what each task is doing.
"""
from __future__ import annotations

import logging
import os
import platform
import re
import sys
import time
from typing import Any

import psutil

from cloud_sync.protocol.thing import thing_description as describe

log = logging.getLogger(__name__)
_PROCESS = psutil.Process()
# cpu_percent(interval=None) measures since the previous call; its first call returns a
# meaningless 0.0. Prime both counters at import so the first heartbeat is a real figure.
psutil.cpu_percent(interval=None)
_PROCESS.cpu_percent(interval=None)


def installed_version(dist: str) -> str | None:
    """A distribution's version from its ``<name>-<version>.dist-info`` folder name: what
    importlib.metadata would say, without the 1.4 MB of modules it loads into an idle agent."""
    prefix = re.sub(r"[-_.]+", "_", dist).lower() + "-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info") and name.lower().startswith(prefix):
                return name[len(prefix):-len(".dist-info")]
    return None


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for dist in ("edge-runtime", "paho-mqtt", "onnxruntime", "ai-edge-litert"):
        version = installed_version(dist)
        if version:
            found[dist] = version
    return found


def temperature_c() -> float | None:
    """The hottest readable sensor (SoC on a Pi/Jetson), or None where there is none."""
    reader = getattr(psutil, "sensors_temperatures", None)
    if reader is None:
        return None
    try:
        readings = [t.current for group in reader().values() for t in group if t.current]
    except Exception:
        return None
    return max(readings) if readings else None


def health_body(*, interval_s: float, started: float, outbox: dict[str, Any],
                last_sync: float | None, tasks: dict[str, dict], extra: dict | None = None,
                version_info: dict[str, str] | None = None) -> dict[str, Any]:
    mem = psutil.virtual_memory()
    body = {
        "interval_s": float(interval_s),
        "uptime_s": round(time.time() - started, 3),
        "cpu_percent": psutil.cpu_percent(interval=None),          # the whole board
        # this agent alone (several simulated devices sharing one host all read the host's
        # figure above, which is why the demo fleet showed one identical CPU everywhere)
        "process_cpu_percent": _PROCESS.cpu_percent(interval=None),
        "mem": {"total": mem.total, "available": mem.available, "percent": mem.percent,
                "rss": _PROCESS.memory_info().rss},
        "temperature_c": temperature_c(),           # None: the board has no readable sensor
        "outbox": {**outbox, "last_sync": last_sync},
        "versions": version_info or versions(),
        "tasks": tasks,
    }
    if extra:
        body.update(extra)
    return body


def thing_description(device_id: str, profile: Any, tasks: list[str],
                      base_topic: str | None = None) -> dict[str, Any]:
    """The birth certificate: a WoT TD written as JSON (no rdflib on the device); the cloud
    derives its RDF. Results of every task share the TD's one ``result/+`` event, so ``tasks``
    adds nothing to it today (kept for the callers' signature)."""
    return describe(profile, device_id, base_topic)


def minimal_thing_description(device_id: str, profile: Any, tasks: list[str]) -> dict[str, Any]:
    """The TD of a device without a profile (fewer facts, same shape)."""
    return thing_description(device_id, profile, tasks)
