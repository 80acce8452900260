"""The fleet over MQTT: the coordinator's request/response to each agent's ``fl_client`` task.

Byte counts are the MQTT payload sizes the coordinator measured (envelope included).
A device whose reply is an error, or that misses the deadline, counts as not answered
(the round proceeds with the others). Selection: online devices, narrowed to those
the fleet graph says can host the model when a graph store is given.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable

from cloud_sync.fl.fleet import Reply

log = logging.getLogger("cloud_sync.fl.mqtt")


class MqttFleet:
    def __init__(self, coordinator, devices: Iterable[str] | None = None, graph_store=None,
                 requirements: dict[str, Any] | None = None):
        self.coordinator = coordinator
        self.only = set(devices) if devices else None
        self.graph_store = graph_store
        self.requirements = requirements or {}
        self.errors: dict[str, str] = {}

    def available(self) -> list[str]:
        online = {d["device_id"] for d in self.coordinator.devices() if d.get("online")}
        if self.only is not None:
            online &= self.only
        capable = self._capable()
        return sorted(online if capable is None else online & capable)

    def _capable(self) -> set[str] | None:
        if self.graph_store is None:
            return None
        try:
            from ontology.queries import capable_devices
        except ImportError:  # ontology not installed: every online device is a candidate
            return None
        return set(capable_devices(self.graph_store, **self.requirements))

    def request_many(self, device_ids, task_name, body, deadline_s):
        raw = self.coordinator.request_many(list(device_ids), task_name, body, deadline_s)
        out: dict[str, Reply | None] = {}
        for device, reply in raw.items():
            if reply is None:
                log.warning("FL: %s did not answer within %.1f s", device, deadline_s)
                out[device] = None
            elif not reply.ok or not isinstance(reply.body, dict):
                self.errors[device] = str(reply.error)
                log.warning("FL: %s answered with an error: %s", device, reply.error)
                out[device] = None
            else:
                out[device] = Reply(reply.body, reply.latency_s, reply.bytes_out, reply.bytes_in)
        return out
