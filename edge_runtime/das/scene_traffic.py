"""Traffic for the scene family: who passes, when, how fast, and how heavy.

Drawn independently of any detector setting: per-direction flow and speed distribution,
close followers (headways down to 1.0 s), truck trains, opposite-direction crossings at
the array's middle, slow vehicles, mild acceleration. One lane per direction, so vehicles
of one direction keep at least 1.0 s (and a body length) between them everywhere on the
array; placements that would break that are dropped, groups first so they survive.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

KMH = 1.0 / 3.6
MIN_HEADWAY_S = 1.0


@dataclass
class FamilyVehicle:
    """Ground truth of one vehicle; ``speed_kmh`` is unsigned and taken at the middle."""

    vid: int
    direction: int
    speed_kmh: float
    accel_ms2: float
    t_center_s: float
    cls: str
    axle_offsets_m: list[float]          # behind the load centroid (+ = behind)
    axle_loads: list[float]
    vib_band_hz: tuple[float, float]
    vib_amp: float
    group: str                           # free | follower | leader | train | crossing

    @property
    def length_m(self) -> float:
        return float(max(self.axle_offsets_m) - min(self.axle_offsets_m) + 2.0)

    @property
    def amplitude(self) -> float:
        return float(max(self.axle_loads))

    def position(self, t: np.ndarray, fibre_m: float, dx: float, n_channels: int) -> tuple[np.ndarray, np.ndarray]:
        """Load-centroid position (m from channel 0) and speed (m/s) at times ``t``."""
        x_mid = 0.5 * (n_channels - 1) * dx
        tau = t - self.t_center_s
        v0 = self.speed_kmh * KMH
        speed = np.maximum(v0 + self.accel_ms2 * tau, 1.0)
        travelled = np.where(v0 + self.accel_ms2 * tau > 1.0, v0 * tau + 0.5 * self.accel_ms2 * tau * tau,
                             v0 * tau)
        return x_mid + self.direction * travelled, speed

    def to_dict(self) -> dict:
        out = asdict(self)
        out["speed_kmh"] = self.direction * self.speed_kmh
        out["amplitude"] = self.amplitude
        return out


def _draw_vehicle(rng: np.random.Generator, vid: int, direction: int, t_c: float, speed_kmh: float,
                  truck: bool, group: str, car_span: float = 10.0,
             truck_over_car: tuple[float, float] = (3.0, 8.0)) -> FamilyVehicle:
    if truck:
        n_axles = int(rng.integers(2, 7))
        length = rng.uniform(5.0, 18.0)
        gaps = rng.dirichlet(np.ones(n_axles - 1) * 0.7) * length
        axles = np.concatenate([[0.0], np.cumsum(gaps)])
        per_axle = rng.uniform(*truck_over_car) * rng.uniform(0.5, 0.7)   # x a median car's axle (car total 1)
        loads = per_axle * rng.uniform(0.6, 1.3, n_axles)
        centre = rng.uniform(4.0, 25.0)
        band = (centre * 0.6, centre * 1.5)
        vib = rng.uniform(0.2, 1.2) * per_axle
    else:
        axles = np.array([0.0, rng.uniform(2.3, 3.1)])
        total = float(np.exp(rng.uniform(-0.5, 0.5) * np.log(car_span)))  # log-uniform over car_span
        front = rng.uniform(0.5, 0.62)
        loads = np.array([front, 1 - front]) * total
        centre = rng.uniform(10.0, 55.0)
        band = (centre * 0.6, centre * 1.5)
        vib = rng.uniform(0.05, 0.6) * total
    centroid = float(np.sum(axles * loads) / np.sum(loads))
    accel = float(rng.uniform(-0.15, 0.15)) if rng.random() < 0.3 else 0.0
    return FamilyVehicle(vid, direction, float(np.clip(speed_kmh, 20.0, 140.0)), accel, float(t_c),
                         "truck" if truck else "car", [float(a) for a in axles - centroid],
                         [float(x) for x in loads], (float(band[0]), float(band[1])), float(vib), group)


class _Lane:
    """Vehicles of one direction; refuses any that would come closer than the headway."""

    def __init__(self, fibre_m: float):
        self.fibre_m = fibre_m
        self.vehicles: list[FamilyVehicle] = []

    def _times(self, veh: FamilyVehicle) -> np.ndarray:
        """Passing times at the two ends and the middle (straight enough for the check)."""
        v = veh.speed_kmh * KMH
        half = 0.5 * self.fibre_m
        return veh.t_center_s + np.array([-half, 0.0, half]) / v

    def fits(self, veh: FamilyVehicle) -> bool:
        mine = self._times(veh)
        for other in self.vehicles:
            gap = mine - self._times(other)
            need = max(MIN_HEADWAY_S, (0.5 * veh.length_m + 0.5 * other.length_m + 2.0) / (veh.speed_kmh * KMH))
            if np.any(np.abs(gap) < need) or np.sign(gap[0]) != np.sign(gap[2]):   # too close or overtaking
                return False
        return True

    def add_group(self, group: list[FamilyVehicle]) -> bool:
        if all(self.fits(v) for v in group):
            self.vehicles += group
            return True
        return False


def draw_traffic(rng: np.random.Generator, spec, ranges) -> list[FamilyVehicle]:
    """All vehicles of one scene (``spec``: a ``SceneSpec``), sorted by ``t_center_s``."""
    duration, fibre = spec.duration_s, spec.n_channels * spec.dx
    lanes = {+1: _Lane(fibre), -1: _Lane(fibre)}
    truck_share = rng.uniform(0.1, 0.35)
    speed_mean = {d: rng.uniform(45.0, 110.0) for d in (1, -1)}
    speed_std = rng.uniform(5.0, 15.0)
    ids = iter(range(1, 10_000))

    def _vehicle(*a, **k) -> FamilyVehicle:
        return _draw_vehicle(*a, car_span=ranges.car_amp_span, truck_over_car=ranges.truck_over_car, **k)

    def speed(truck: bool, d: int) -> float:
        if rng.random() < 0.12:
            return float(rng.uniform(20.0, 50.0))
        return float(rng.normal(speed_mean[d] - (10.0 if truck else 0.0), speed_std))

    # 1. opposite-direction crossings at the middle (both vehicles pass it together)
    for _ in range(int(rng.integers(2, 5))):
        t_c = rng.uniform(3.0, duration - 3.0)
        pair = [_vehicle(rng, next(ids), d, t_c + rng.uniform(-0.3, 0.3), speed(False, d),
                         rng.random() < truck_share, "crossing") for d in (1, -1)]
        if lanes[1].fits(pair[0]) and lanes[-1].fits(pair[1]):
            lanes[1].add_group([pair[0]])
            lanes[-1].add_group([pair[1]])
    # 2. truck trains: 2-4 trucks at 1.5-3.5 s, one speed
    for _ in range(int(rng.integers(0, 3))):
        d = int(rng.choice([1, -1]))
        v = float(rng.uniform(50.0, 90.0))
        t_c = rng.uniform(0.0, duration)
        train = []
        for k in range(int(rng.integers(2, 5))):
            train.append(_vehicle(rng, next(ids), d, t_c, v * rng.uniform(0.99, 1.01), True, "train"))
            t_c += rng.uniform(1.5, 3.5) + train[-1].length_m / (v * KMH)
        lanes[d].add_group(train)
    # 3. free flow with close followers
    follow_share = rng.uniform(0.15, 0.35)
    for d in (1, -1):
        rate = rng.uniform(2.0, 8.0) / 60.0
        for t_c in np.sort(rng.uniform(-10.0, duration + 10.0, rng.poisson(rate * (duration + 20.0)))):
            truck = rng.random() < truck_share
            leader = _vehicle(rng, next(ids), d, float(t_c), speed(truck, d), truck, "free")
            group = [leader]
            if rng.random() < follow_share:
                gap = rng.uniform(MIN_HEADWAY_S, 2.5)
                truck2 = rng.random() < truck_share
                follower = _vehicle(rng, next(ids), d, 0.0, leader.speed_kmh * rng.uniform(0.99, 1.0),
                                    truck2, "follower")
                body = (0.5 * leader.length_m + 0.5 * follower.length_m + 2.0) / (leader.speed_kmh * KMH)
                follower.t_center_s = float(t_c + max(gap, body) + 0.05)
                follower.accel_ms2 = leader.accel_ms2 = 0.0
                leader.group = "leader"
                group.append(follower)
            if not lanes[d].add_group(group):
                lanes[d].add_group([leader])
    vehicles = lanes[1].vehicles + lanes[-1].vehicles
    return sorted(vehicles, key=lambda v: v.t_center_s)
