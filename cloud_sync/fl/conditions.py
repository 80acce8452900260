"""Clients as fleets have them, for the in-process simulation: devices that vanish mid-round,
stragglers that miss the deadline, devices that join late.

``SimulatedFleet`` is an :class:`~cloud_sync.fl.fleet.InProcessFleet` whose devices have a
speed (lognormal spread, a share of them ``slowdown`` × slower) and an uplink. A reply's
*simulated* latency is local steps × step time × speed + bytes / uplink; past the
round's deadline it is dropped, as the MQTT fleet drops a late reply. A ``dropout``
share of the selected devices receive the request and never answer (the bytes sent to
them are counted as lost). ``late_share`` of the devices are offline until
``join_round``. Everything is drawn from ``seed``, so a run is repeatable.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from cloud_sync.fl.fleet import InProcessFleet, Reply


@dataclass(frozen=True)
class FleetConditions:
    dropout: float = 0.0          # probability a selected device vanishes mid-round
    straggler_share: float = 0.0  # share of devices that are ``slowdown`` × slower
    slowdown: float = 8.0
    step_s: float = 0.05          # simulated seconds per local SGD step on a typical device
    speed_spread: float = 0.3     # lognormal σ of device speed
    uplink_bytes_s: float = 50e3  # simulated uplink (NB-IoT/LTE-M class: tens of kB/s)
    late_share: float = 0.0       # share of devices offline until ``join_round``
    join_round: int = 0

    def __post_init__(self):
        for name in ("dropout", "straggler_share", "late_share"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"FleetConditions.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.slowdown < 1 or self.step_s <= 0 or self.uplink_bytes_s <= 0 or self.join_round < 0:
            raise ValueError(f"FleetConditions: slowdown >= 1, step_s > 0, uplink_bytes_s > 0, "
                             f"join_round >= 0 needed, got {asdict(self)}")

    def to_dict(self) -> dict:
        return asdict(self)


class SimulatedFleet(InProcessFleet):
    def __init__(self, handlers, conditions: FleetConditions, seed: int = 0):
        super().__init__(handlers, seed=seed)
        self.conditions = conditions
        ids = sorted(handlers)
        rng = np.random.default_rng([seed, 7])
        speed = rng.lognormal(0.0, conditions.speed_spread, len(ids))
        speed[rng.random(len(ids)) < conditions.straggler_share] *= conditions.slowdown
        self.slowness = dict(zip(ids, speed))
        late = rng.random(len(ids)) < conditions.late_share
        self.late = {d for d, is_late in zip(ids, late) if is_late}
        self.round = 0
        self.last_bytes_lost = 0
        self.counts = {"dropped": 0, "late_replies": 0, "answered": 0}

    def start_round(self, round_idx: int) -> None:
        self.round = round_idx

    def available(self) -> list[str]:
        joined = self.round >= self.conditions.join_round
        return [d for d in sorted(self.handlers) if joined or d not in self.late]

    def request_many(self, device_ids, task_name, body, deadline_s):
        import cbor2

        wire_out = len(cbor2.dumps(body))
        vanish = {d for d in device_ids if self._rng.random() < self.conditions.dropout}
        asked = [d for d in device_ids if d not in vanish]
        replies: dict[str, Reply | None] = {d: None for d in vanish}
        self.last_bytes_lost = wire_out * len(vanish)
        self.counts["dropped"] += len(vanish)
        for device, reply in super().request_many(asked, task_name, body, deadline_s).items():
            latency = (int(reply.body.get("steps", 0)) * self.conditions.step_s * self.slowness[device]
                       + (reply.bytes_out + reply.bytes_in) / self.conditions.uplink_bytes_s)
            if latency > deadline_s:
                replies[device] = None
                self.last_bytes_lost += reply.bytes_out
                self.counts["late_replies"] += 1
            else:
                replies[device] = Reply(reply.body, latency, reply.bytes_out, reply.bytes_in)
                self.counts["answered"] += 1
        return replies
