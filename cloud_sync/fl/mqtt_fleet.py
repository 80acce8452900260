"""The fleet over MQTT: the coordinator's request/response to each agent's ``fl_client`` task.

Byte counts are the MQTT payload sizes the coordinator measured (envelope included).
A device whose reply is an error, or that misses the deadline, counts as not answered
(the round proceeds with the others). Selection: online devices, narrowed to those
the fleet graph says can host the model when a graph store is given.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterable

import cbor2

from cloud_sync.fl.fleet import Reply
from edge_runtime.online.chunks import MAX_MQTT_MESSAGE, needs_chunks, part_size, split

log = logging.getLogger("cloud_sync.fl.mqtt")


class MqttFleet:
    """``max_message``: no request or reply of a round is larger (θ staged in parts before the
    round request, oversized updates fetched in parts; ``edge_runtime.online.chunks``)."""

    def __init__(self, coordinator, devices: Iterable[str] | None = None, graph_store=None,
                 requirements: dict[str, Any] | None = None, max_message: int = MAX_MQTT_MESSAGE):
        part_size(max_message)  # refuses a limit with no room for data
        self.coordinator = coordinator
        self.only = set(devices) if devices else None
        self.graph_store = graph_store
        self.requirements = requirements or {}
        self.errors: dict[str, str] = {}
        self.max_message = max_message
        self.largest_message = 0  # the largest payload either way so far (envelope included)

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
        started = time.monotonic()
        left = lambda: max(0.1, deadline_s - (time.monotonic() - started))  # noqa: E731
        body = {**body, "max_message": self.max_message}
        devices, spent = list(device_ids), {d: [0, 0] for d in device_ids}
        if needs_chunks(body.get("theta"), self.max_message):
            parts = split(cbor2.dumps(body["theta"]), self.max_message)
            for i, part in enumerate(parts):
                staged = self._ask(devices, task_name, {"op": "stage", "round": body.get("round"), "index": i,
                                                        "count": len(parts), "data": part}, left(), spent)
                devices = [d for d in devices if staged.get(d) is not None]
            body = {**body, "theta": {"staged": len(parts)}}
        out: dict[str, Reply | None] = {d: None for d in device_ids}
        for device, reply in self._ask(devices, task_name, body, left(), spent).items():
            if reply is not None and "update_parts" in reply.body:
                reply = self._fetch_update(device, task_name, body.get("round"), reply, left(), spent)
            if reply is not None:
                out[device] = Reply(reply.body, time.monotonic() - started, *spent[device])
        return out

    def _ask(self, devices, task_name, body, deadline_s, spent) -> dict[str, Any]:
        """One request to each device; the coordinator's reply, or None (late, error, not dict)."""
        raw = self.coordinator.request_many(list(devices), task_name, body, deadline_s) if devices else {}
        out = {}
        for device, reply in raw.items():
            if reply is None:
                log.warning("FL: %s did not answer within %.1f s", device, deadline_s)
            elif not reply.ok or not isinstance(reply.body, dict):
                self.errors[device] = str(reply.error)
                log.warning("FL: %s answered with an error: %s", device, reply.error)
                reply = None
            else:
                spent[device][0] += reply.bytes_out
                spent[device][1] += reply.bytes_in
                self.largest_message = max(self.largest_message, reply.bytes_out, reply.bytes_in)
            out[device] = reply
        return out

    def _fetch_update(self, device, task_name, round_idx, reply, deadline_s, spent):
        """Collect an oversized update part by part; None when a part does not come."""
        parts = []
        for i in range(int(reply.body["update_parts"])):
            got = self._ask([device], task_name, {"op": "fetch", "round": round_idx, "index": i}, deadline_s,
                            spent).get(device)
            if got is None:
                return None
            parts.append(got.body["data"])
        reply.body["update"] = cbor2.loads(b"".join(parts))
        return reply
