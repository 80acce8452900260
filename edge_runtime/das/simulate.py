"""Synthetic DAS traffic scenes with ground truth, for tests, training and benchmarks.

Physics, kept simple but with the features that break naive pipelines:

* each axle is a moving point load; the fibre sees the quasi-static strain of a buried
  cable, ``Q(u) = (1 - u^2) exp(-u^2/2)`` with ``u = d / w`` (``w`` grows with the
  lane's distance from the cable), so the strain *rate* is ``load * v / w * (u^3 - 3u)
  exp(-u^2/2)``;
* vehicles also shake the road: band-limited noise around the vehicle, trucks louder and
  lower (4-14 Hz), cars quieter and higher (14-40 Hz);
* trucks are heavier (7-40 t vs 1-2.4 t), have 2-5 axles over 5-14 m;
* traffic in both directions with Poisson arrivals, overtaking (independent speeds),
  and close following (a follower 0.8-1.8 s behind its leader at nearly the same speed);
* incoherent noise, coherent (common-mode) noise, dead and noisy channels, fibre
  coupling that varies smoothly along the cable, and a per-scene overall gain.

Signals are computed only in a band of channels around each vehicle, and by time chunks,
so a 10-minute, 1000-channel, 500 Hz scene never needs to sit in memory at once.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np
from scipy import signal

from edge_runtime.das.record import DasRecord

KMH = 1.0 / 3.6


@dataclass
class SceneConfig:
    """What to simulate. Rates are vehicles per minute per direction."""

    n_channels: int = 500
    dx: float = 2.0
    fs: float = 250.0
    duration_s: float = 180.0
    seed: int = 0
    rate_per_min: float = 5.0
    truck_fraction: float = 0.25
    follow_fraction: float = 0.25        # share of vehicles that bring a close follower
    headway_s: tuple[float, float] = (0.8, 1.8)
    car_speed_kmh: tuple[float, float] = (60.0, 100.0)
    truck_speed_kmh: tuple[float, float] = (55.0, 85.0)
    noise: float = 1.0                   # incoherent noise std at full rate
    coherent_noise: float = 0.6          # common-mode noise std
    n_dead: int = 4
    n_noisy: int = 4
    coupling_spread: float = 0.35        # log-std of the fibre coupling along the cable
    gain_range: tuple[float, float] = (0.6, 1.6)
    signal_scale: float = 0.5            # strain-rate units per tonne at 1 m/s and w = 1 m


@dataclass
class Vehicle:
    """Ground truth for one vehicle (times in seconds from scene start)."""

    vid: int
    direction: int                       # +1 toward increasing channel index
    speed_kmh: float                     # unsigned
    t_center_s: float                    # load centroid passes the array's middle
    cls: str                             # "car" | "truck"
    axle_offsets_m: list[float]          # behind the load centroid (+ = behind)
    axle_loads_t: list[float]
    vib_band_hz: tuple[float, float]
    vib_amp: float
    follows: int | None = None           # vid of the leader when close-following
    seed: int = 0

    @property
    def signed_speed_kmh(self) -> float:
        return self.direction * self.speed_kmh

    @property
    def length_m(self) -> float:
        return float(max(self.axle_offsets_m) - min(self.axle_offsets_m) + 2.5)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["speed_kmh"] = self.signed_speed_kmh
        return out


@dataclass
class Scene:
    config: SceneConfig
    vehicles: list[Vehicle]
    coupling: np.ndarray                 # per channel
    dead: np.ndarray                     # channel indices
    noisy: np.ndarray
    gain: float
    _vib_cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n_samples(self) -> int:
        return int(round(self.config.duration_s * self.config.fs))

    def record(self) -> DasRecord:
        """The whole scene as one record (fine up to a few hundred MB)."""
        return DasRecord(self.render(0, self.n_samples), fs=self.config.fs, dx=self.config.dx,
                         source=f"simulated(seed={self.config.seed})", meta={"format": "simulated"})

    def chunks(self, chunk_s: float = 10.0) -> Iterator[np.ndarray]:
        """The scene as consecutive time chunks (what a streaming source delivers)."""
        step = int(round(chunk_s * self.config.fs))
        for start in range(0, self.n_samples, step):
            yield self.render(start, min(step, self.n_samples - start))

    def render(self, start: int, n: int) -> np.ndarray:
        """Samples ``start .. start+n`` of the scene, all channels, float32."""
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, 7, start])
        out = rng.standard_normal((n, cfg.n_channels), dtype=np.float32) * np.float32(cfg.noise)
        out[:, self.noisy] *= 8.0
        common = _band_noise(rng, n + 2 * int(cfg.fs), cfg.fs, (0.05, 3.0))[int(cfg.fs):-int(cfg.fs)]
        out += (cfg.coherent_noise * common[:, None] * self.coupling[None, :]).astype(np.float32)
        t = (start + np.arange(n)) / cfg.fs
        for vehicle in self.vehicles:
            self._add_vehicle(out, t, start, vehicle)
        out[:, self.dead] = 0.0
        return out

    # one vehicle, only in the band of channels it influences
    def _add_vehicle(self, out: np.ndarray, t: np.ndarray, start: int, veh: Vehicle) -> None:
        cfg = self.config
        x_mid = 0.5 * (cfg.n_channels - 1) * cfg.dx
        v = veh.speed_kmh * KMH
        pos = x_mid + veh.direction * v * (t - veh.t_center_s)          # load centroid
        reach = 28.0 + max(veh.axle_offsets_m) - min(veh.axle_offsets_m)
        rows = np.nonzero((pos > -reach) & (pos < cfg.n_channels * cfg.dx + reach))[0]
        if rows.size == 0:
            return
        half = int(np.ceil(reach / cfg.dx))
        centre = np.rint(pos[rows] / cfg.dx).astype(np.int64)
        cols = centre[:, None] + np.arange(-half, half + 1)[None, :]
        valid = (cols >= 0) & (cols < cfg.n_channels)
        dist = cols * cfg.dx - pos[rows][:, None]                         # channel - centroid
        width = _lane_width(veh.direction)
        values = np.zeros(cols.shape, dtype=np.float64)
        for offset, load in zip(veh.axle_offsets_m, veh.axle_loads_t):
            u = (dist + veh.direction * offset) / width
            values += load * (u ** 3 - 3 * u) * np.exp(-0.5 * u * u)
        values *= cfg.signal_scale * v / width ** 2 * veh.direction * -1.0
        vib = self._vibration(veh)[start + rows]
        values += veh.vib_amp * vib[:, None] * np.exp(-0.5 * (dist / 7.0) ** 2)
        values *= self.gain * self.coupling[np.clip(cols, 0, cfg.n_channels - 1)]
        out[rows[:, None].repeat(cols.shape[1], 1)[valid], cols[valid]] += values[valid].astype(np.float32)

    def _vibration(self, veh: Vehicle) -> np.ndarray:
        """The vehicle's own road-shaking signal over the whole scene (cached)."""
        if veh.vid not in self._vib_cache:
            rng = np.random.default_rng([self.config.seed, 11, veh.seed])
            self._vib_cache[veh.vid] = _band_noise(rng, self.n_samples, self.config.fs,
                                                   veh.vib_band_hz).astype(np.float32)
        return self._vib_cache[veh.vid]


def _lane_width(direction: int) -> float:
    """Lane of +direction runs over the cable (narrow response), the other one 3 m away."""
    return 2.0 if direction > 0 else 2.6


def _band_noise(rng: np.random.Generator, n: int, fs: float, band: tuple[float, float]) -> np.ndarray:
    """Unit-std Gaussian noise limited to ``band`` Hz (clipped below Nyquist)."""
    hi = min(band[1], 0.45 * fs)
    sos = signal.butter(4, [band[0], hi], btype="bandpass", fs=fs, output="sos")
    x = signal.sosfilt(sos, rng.standard_normal(n))
    return x / (x.std() + 1e-12)


def make_scene(config: SceneConfig | None = None) -> Scene:
    """Draw vehicles and channel properties for ``config`` (deterministic in its seed)."""
    cfg = config or SceneConfig()
    rng = np.random.default_rng(cfg.seed)
    vehicles: list[Vehicle] = []
    for direction in (+1, -1):
        n_expected = cfg.rate_per_min * cfg.duration_s / 60.0
        times = np.sort(rng.uniform(0, cfg.duration_s, rng.poisson(n_expected)))
        passes: list[float] = []            # t_center of this direction's vehicles
        for t_c in times:
            leader = _draw_vehicle(rng, cfg, len(vehicles), direction, float(t_c))
            wants_follower = rng.random() < cfg.follow_fraction
            gap = rng.uniform(*cfg.headway_s)
            if not _free(passes, t_c, cfg.headway_s[0]):
                continue
            vehicles.append(leader)
            passes.append(float(t_c))
            follower = _draw_vehicle(rng, cfg, len(vehicles), direction, float(t_c + gap),
                                     speed_kmh=leader.speed_kmh + rng.uniform(-1, 1))
            # bodies may not overlap: centroids at least half of each length + 3 m apart
            gap = max(gap, (0.5 * leader.length_m + 0.5 * follower.length_m + 3.0) / (leader.speed_kmh * KMH))
            follower.t_center_s = float(t_c + gap)
            if wants_follower and _free(passes, t_c + gap, cfg.headway_s[0]):
                follower.follows = leader.vid
                vehicles.append(follower)
                passes.append(float(t_c + gap))
    vehicles = [v for v in vehicles if 0.0 <= v.t_center_s < cfg.duration_s]
    coupling = _coupling(rng, cfg)
    dead = rng.choice(cfg.n_channels, size=cfg.n_dead, replace=False)
    noisy = rng.choice(np.setdiff1d(np.arange(cfg.n_channels), dead), size=cfg.n_noisy, replace=False)
    gain = float(rng.uniform(*cfg.gain_range))
    return Scene(cfg, vehicles, coupling, np.sort(dead), np.sort(noisy), gain)


def _free(passes: list[float], t_c: float, min_gap: float) -> bool:
    """One lane per direction: no two vehicles pass the middle closer than ``min_gap``.

    (Overtaking still happens: lines with different speeds cross away from the middle.)
    """
    return all(abs(t_c - other) >= min_gap for other in passes)


def _draw_vehicle(rng: np.random.Generator, cfg: SceneConfig, vid: int, direction: int,
                  t_c: float, speed_kmh: float | None = None) -> Vehicle:
    truck = rng.random() < cfg.truck_fraction
    if truck:
        n_axles = int(rng.choice([2, 3, 4, 5], p=[0.3, 0.25, 0.2, 0.25]))
        spacings = {2: [5.0], 3: [4.0, 1.3], 4: [3.6, 6.5, 1.3], 5: [3.6, 1.3, 7.0, 1.3]}[n_axles]
        axles = np.concatenate([[0.0], np.cumsum(np.array(spacings) * rng.uniform(0.9, 1.1))])
        loads = rng.uniform(3.0, 9.0, n_axles)
        band, amp = (4.0, 14.0), rng.uniform(1.0, 2.0)
        speed = speed_kmh if speed_kmh is not None else rng.uniform(*cfg.truck_speed_kmh)
    else:
        axles = np.array([0.0, rng.uniform(2.4, 3.0)])
        loads = np.full(2, rng.uniform(0.5, 1.2))
        band, amp = (14.0, 40.0), rng.uniform(0.2, 0.6)
        speed = speed_kmh if speed_kmh is not None else rng.uniform(*cfg.car_speed_kmh)
    centroid = float(np.sum(axles * loads) / np.sum(loads))
    return Vehicle(vid=vid, direction=direction, speed_kmh=float(speed), t_center_s=t_c,
                   cls="truck" if truck else "car", axle_offsets_m=list(axles - centroid),
                   axle_loads_t=[float(x) for x in loads], vib_band_hz=band, vib_amp=float(amp),
                   seed=int(rng.integers(1 << 31)))


def _coupling(rng: np.random.Generator, cfg: SceneConfig) -> np.ndarray:
    """Smoothly varying fibre coupling (log-normal), with one poorly coupled stretch."""
    raw = rng.standard_normal(cfg.n_channels + 64)
    smooth = np.convolve(raw, np.hanning(31) / np.hanning(31).sum() * 5.5, mode="same")[32:-32]
    coupling = np.exp(cfg.coupling_spread * smooth)
    start = int(rng.integers(0, max(1, cfg.n_channels - cfg.n_channels // 10)))
    coupling[start:start + cfg.n_channels // 20] *= 0.4
    return coupling.astype(np.float32)
