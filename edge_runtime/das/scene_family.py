"""A family of DAS traffic scenes drawn independently of the detector's assumptions.

``simulate.py`` is the detector's own simulator: one signature model, one amplitude
scale, one noise colour. A detector tuned on it can learn that simulator rather than
traffic. This family draws every axis that differs between real sites from wide ranges
(``FamilyRanges``), with a *different* physical model of the signature:

* signature: horizontal strain of a buried cable under a point load from a half-space
  (Boussinesq-like) kernel ``(1 - 2 q^2) / (1 + q^2)^(5/2)``, ``q = xi / r`` with ``r``
  from the cable depth and the lane's lateral offset (heavy tails, unlike a Gaussian),
  averaged over the interrogator's gauge length; strain *rate* is what is recorded;
* amplitudes: cars log-uniform over a 10x range, trucks 3-8x the car median, coupling
  along the fibre log-normal (>= 10x between its 5th and 95th percentile) with weak
  stretches, random polarity per site;
* road vibration carried by each vehicle in a per-vehicle band (cars and trucks overlap);
* noise: white plus coloured (1/f^alpha) per channel, common-mode laser noise, per-channel
  noise level, dead and noisy channels, spikes, slow thermal drift;
* ambient events: stationary machines (tones over tens of metres, switching on and off)
  and impulsive events (footsteps, hammering) at random places;
* traffic (``scene_traffic.py``): speeds 20-140 km/h, headways down to 1.0 s, platoons,
  truck trains, opposite-direction crossings at the array's middle.

Seeds are split once, here, into ``TUNING_SEEDS`` and ``REPORT_SEEDS``: parameters may be
chosen on the first only; the benchmark reports the second.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np
from scipy import signal

from edge_runtime.das.record import DasRecord
from edge_runtime.das.scene_traffic import FamilyVehicle, draw_traffic

# choose parameters here only; 1012-1031 were added in issue 17's sixth session (before,
# a held-out check of the tuning results, never used to choose): 12 scenes were fitted
# more closely than they generalised (tuning F1 0.956 vs report 0.829); 1032-1095 in the
# seventh, fresh seeds never run before: the detector tuned on 1000-1031 (mean F1 0.937
# there) scored 0.881 on them, as on the report set (0.827)
TUNING_SEEDS = tuple(range(1000, 1096))
REPORT_SEEDS = tuple(range(2000, 2010))      # fixed before any measurement; report these
FS_CHOICES = (200.0, 250.0, 400.0, 500.0, 625.0, 800.0, 1000.0)   # whole ns sample periods


@dataclass(frozen=True)
class FamilyRanges:
    """The ranges every scene is drawn from (the issue's axes)."""

    fs_hz: tuple[float, ...] = FS_CHOICES
    dx_m: tuple[float, float] = (0.5, 4.0)
    channels: tuple[int, int] = (200, 2000)
    fibre_m: tuple[float, float] = (150.0, 2000.0)   # a road section, not a whole cable
    max_raw_rate: float = 1.0e6                      # samples/s kept for the peer's memory
    cable_depth_m: tuple[float, float] = (0.4, 2.0)
    lane_offset_m: tuple[float, float] = (0.5, 7.0)
    gauge_m: tuple[float, float] = (2.0, 10.0)
    coupling_log_std: tuple[float, float] = (0.7, 1.1)  # 5-95 % span exp(3.3 sigma) >= 10x
    car_amp_span: float = 10.0
    truck_over_car: tuple[float, float] = (3.0, 8.0)
    car_snr: tuple[float, float] = (2.0, 8.0)          # peak of a median car axle (20 m/s, r = 2 m) / white-noise std
    noise_alpha: tuple[float, float] = (0.5, 1.6)
    coloured_share: tuple[float, float] = (0.2, 1.0)
    dead_share: tuple[float, float] = (0.0, 0.04)
    noisy_share: tuple[float, float] = (0.0, 0.04)


@dataclass
class SceneSpec:
    """Everything drawn for one scene (JSON-friendly through ``to_dict``)."""

    seed: int
    fs: float
    dx: float
    n_channels: int
    duration_s: float
    cable_depth_m: float
    lane_offsets_m: tuple[float, float]     # lane of +direction, lane of -direction
    gauge_m: float
    polarity: float
    car_snr: float
    noise_alpha: float
    coloured_share: float
    common_mode: float
    drift: float
    coupling: np.ndarray = field(repr=False)
    noise_level: np.ndarray = field(repr=False)
    dead: np.ndarray = field(repr=False)
    noisy: np.ndarray = field(repr=False)
    machines: list[dict] = field(default_factory=list)
    impulses: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items()
               if k not in ("coupling", "noise_level", "dead", "noisy")}
        out.update(n_dead=int(self.dead.size), n_noisy=int(self.noisy.size),
                   coupling_p5_p95=[float(np.percentile(self.coupling, 5)),
                                    float(np.percentile(self.coupling, 95))])
        return out


def draw_spec(seed: int, duration_s: float = 90.0, ranges: FamilyRanges = FamilyRanges()) -> SceneSpec:
    """Site and instrument of scene ``seed`` (deterministic)."""
    rng = np.random.default_rng([seed, 1])
    fs = float(rng.choice(ranges.fs_hz))
    dx = float(np.exp(rng.uniform(np.log(ranges.dx_m[0]), np.log(ranges.dx_m[1]))))
    lo = max(ranges.channels[0], int(np.ceil(ranges.fibre_m[0] / dx)))
    hi = min(ranges.channels[1], int(ranges.fibre_m[1] / dx), int(ranges.max_raw_rate / fs))
    n_ch = int(rng.integers(min(lo, hi), hi + 1))
    spread = rng.uniform(*ranges.coupling_log_std)
    raw = rng.standard_normal(n_ch + 200)
    corr = max(3, int(rng.uniform(10.0, 60.0) / dx))        # coupling varies over 10-60 m
    smooth = np.convolve(raw, np.hanning(2 * corr + 1), mode="same")[100:-100]
    coupling = np.exp(spread * smooth / (smooth.std() + 1e-12))
    for _ in range(int(rng.integers(1, 4))):                 # weak stretches (loose cable, duct)
        start, length = int(rng.integers(0, n_ch)), int(rng.uniform(10, 80) / dx)
        coupling[start:start + length] *= rng.uniform(0.1, 0.35)
    coupling /= np.median(coupling)
    dead = rng.choice(n_ch, int(rng.uniform(*ranges.dead_share) * n_ch), replace=False)
    rest = np.setdiff1d(np.arange(n_ch), dead)
    noisy = rng.choice(rest, int(rng.uniform(*ranges.noisy_share) * n_ch), replace=False)
    noise_level = np.exp(0.25 * rng.standard_normal(n_ch))
    noise_level[noisy] *= rng.uniform(5.0, 20.0, noisy.size)
    length = n_ch * dx
    machines = [{"x_m": float(rng.uniform(0, length)), "width_m": float(rng.uniform(10, 50)),
                 "freq_hz": float(rng.uniform(8, min(60, 0.4 * fs))), "amp": float(rng.uniform(0.5, 3.0)),
                 "on_s": float(rng.uniform(0, duration_s)), "for_s": float(rng.uniform(5, 60))}
                for _ in range(int(rng.integers(0, 3)))]
    impulses = [{"x_m": float(rng.uniform(0, length)), "t_s": float(rng.uniform(0, duration_s)),
                 "amp": float(rng.uniform(2, 15)), "width_m": float(rng.uniform(3, 20)),
                 "repeat_s": float(rng.uniform(0.4, 1.0)), "count": int(rng.integers(1, 12))}
                for _ in range(int(rng.integers(0, 6)))]
    return SceneSpec(seed=seed, fs=fs, dx=dx, n_channels=n_ch, duration_s=duration_s,
                     cable_depth_m=float(rng.uniform(*ranges.cable_depth_m)),
                     lane_offsets_m=tuple(sorted(rng.uniform(*ranges.lane_offset_m, 2))[::int(rng.choice([-1, 1]))]),
                     gauge_m=float(rng.uniform(*ranges.gauge_m)), polarity=float(rng.choice([-1.0, 1.0])),
                     car_snr=float(rng.uniform(*ranges.car_snr)),
                     noise_alpha=float(rng.uniform(*ranges.noise_alpha)),
                     coloured_share=float(rng.uniform(*ranges.coloured_share)),
                     common_mode=float(rng.uniform(0.0, 1.5)), drift=float(rng.uniform(0.0, 3.0)),
                     coupling=coupling.astype(np.float32), noise_level=noise_level.astype(np.float32),
                     dead=np.sort(dead), noisy=np.sort(noisy), machines=machines, impulses=impulses)


class FamilyScene:
    """One drawn scene: ``spec``, ``vehicles`` (truth) and chunked rendering."""

    def __init__(self, seed: int, duration_s: float = 90.0, ranges: FamilyRanges = FamilyRanges()):
        self.spec = draw_spec(seed, duration_s, ranges)
        self.vehicles: list[FamilyVehicle] = draw_traffic(np.random.default_rng([seed, 2]), self.spec,
                                                          ranges)
        self._vib: dict = {}          # per-scene caches: vibrations, processes, kernels

    @property
    def n_samples(self) -> int:
        return int(round(self.spec.duration_s * self.spec.fs))

    def truth(self) -> list[dict]:
        return [v.to_dict() for v in self.vehicles]

    def record(self) -> DasRecord:
        """The whole scene, rendered by the same 10-s chunks a stream gets."""
        s = self.spec
        return DasRecord(np.concatenate(list(self.chunks())), fs=s.fs, dx=s.dx,
                         source=f"family(seed={s.seed})", meta={"format": "scene_family"})

    def chunks(self, chunk_s: float = 10.0) -> Iterator[np.ndarray]:
        step = int(round(chunk_s * self.spec.fs))
        for start in range(0, self.n_samples, step):
            yield self.render(start, min(step, self.n_samples - start))

    # ------------------------------------------------------------------ rendering
    def render(self, start: int, n: int) -> np.ndarray:
        """Samples ``start .. start + n`` (all channels, float32).

        Vehicles, ambient events, drift and common mode are exact for any slicing; the
        per-channel noise is drawn per slice, so render by ``chunks`` to get one scene.
        """
        s = self.spec
        rng = np.random.default_rng([s.seed, 3, start])
        out = rng.standard_normal((n, s.n_channels), dtype=np.float32)
        pad = int(2 * s.fs)
        coloured = _coloured_noise(rng, n + pad, s.n_channels, s.noise_alpha, s.fs)[pad:]
        out += np.float32(s.coloured_share) * coloured
        out *= s.noise_level[None, :]
        t = (start + np.arange(n)) / s.fs
        cm = self._process(3.0)[start:start + n]
        drift = self._process(0.05)[start:start + n]
        x = np.arange(s.n_channels) * s.dx
        out += (s.common_mode * cm)[:, None].astype(np.float32)
        out += (s.drift * drift[:, None] * np.sin(2 * np.pi * x / 700.0 + 1.0)[None, :]).astype(np.float32)
        self._ambient(out, t, x)
        amp_scale = s.car_snr * s.polarity
        for veh in self.vehicles:
            self._add_vehicle(out, t, start, veh, amp_scale)
        out[:, s.dead] = 0.0
        return out

    def _ambient(self, out: np.ndarray, t: np.ndarray, x: np.ndarray) -> None:
        s = self.spec
        for m in s.machines:
            on = (t >= m["on_s"]) & (t < m["on_s"] + m["for_s"])
            if on.any():
                shape = np.exp(-0.5 * ((x - m["x_m"]) / m["width_m"]) ** 2)
                tone = m["amp"] * np.sin(2 * np.pi * m["freq_hz"] * t[on]) * (1 + 0.3 * np.sin(2 * np.pi * 0.7 * t[on]))
                out[on] += (tone[:, None] * shape[None, :]).astype(np.float32)
        for imp in s.impulses:
            for k in range(imp["count"]):
                t_k = imp["t_s"] + k * imp["repeat_s"]
                rows = np.nonzero(np.abs(t - t_k) < 0.15)[0]
                if rows.size:
                    tau = t[rows] - t_k
                    burst = imp["amp"] * np.exp(-np.abs(tau) / 0.03) * np.sin(2 * np.pi * 25.0 * tau)
                    shape = np.exp(-np.abs(x - imp["x_m"]) / imp["width_m"])
                    out[rows] += (burst[:, None] * shape[None, :]).astype(np.float32)

    def _add_vehicle(self, out: np.ndarray, t: np.ndarray, start: int, veh: FamilyVehicle,
                     amp_scale: float) -> None:
        s = self.spec
        pos, speed = veh.position(t, s.n_channels * s.dx, s.dx, s.n_channels)
        r = float(np.hypot(s.cable_depth_m, s.lane_offsets_m[0 if veh.direction > 0 else 1]))
        reach = 6.0 * r + veh.length_m + s.gauge_m          # kernel < 0.3 % of its peak beyond
        length = s.n_channels * s.dx
        rows = np.nonzero((pos > -reach) & (pos < length + reach))[0]
        if rows.size == 0:
            return
        half = int(np.ceil(reach / s.dx))
        centre = np.rint(pos[rows] / s.dx).astype(np.int64)
        cols = centre[:, None] + np.arange(-half, half + 1)[None, :]
        valid = (cols >= 0) & (cols < s.n_channels)
        xi = cols * s.dx - pos[rows][:, None]
        grid, kernel = self._kernel(r, reach)
        rate = np.zeros(cols.shape)
        for offset, load in zip(veh.axle_offsets_m, veh.axle_loads):
            rate += load * np.interp(xi + veh.direction * offset, grid, kernel, left=0.0, right=0.0)
        # d(strain)/dt = -v/r d(strain)/dq: faster and shallower means stronger; a median car
        # at 20 m/s and r = 2 m peaks at ``car_snr`` times the white-noise std
        rate *= -(veh.direction * speed[rows])[:, None] / r * (amp_scale / (10.0 * SLOPE_PEAK * 0.5))
        vib = self._vibration(veh)[start + rows]
        rate += (veh.vib_amp * amp_scale) * vib[:, None] * np.exp(-np.abs(xi) / (1.5 * r + 3.0))
        rate *= s.coupling[np.clip(cols, 0, s.n_channels - 1)]
        out[np.broadcast_to(rows[:, None], cols.shape)[valid], cols[valid]] += rate[valid].astype(np.float32)

    def _kernel(self, r: float, reach: float) -> tuple[np.ndarray, np.ndarray]:
        """The gauge-averaged strain slope on a 5-cm grid of distance (a lookup table)."""
        key = ("kernel", round(r, 6), round(reach, 3))
        if key not in self._vib:
            grid = np.arange(-reach - 20.0, reach + 20.0, 0.05)
            kernel = np.mean([_strain_slope((grid + g * self.spec.gauge_m) / r)
                              for g in np.linspace(-0.5, 0.5, 9)], axis=0)
            self._vib[key] = (grid, kernel)
        return self._vib[key]

    def _process(self, cutoff_hz: float) -> np.ndarray:
        """A unit-std low-frequency process over the whole scene (common mode, drift)."""
        key = -int(cutoff_hz * 1000) - 1
        if key not in self._vib:
            s = self.spec
            rng = np.random.default_rng([s.seed, 4, -key])
            sos = signal.butter(2, min(cutoff_hz, 0.4 * s.fs), fs=s.fs, output="sos")
            x = signal.sosfilt(sos, rng.standard_normal(self.n_samples + 1))
            self._vib[key] = (x / (x.std() + 1e-12)).astype(np.float32)
        return self._vib[key]

    def _vibration(self, veh: FamilyVehicle) -> np.ndarray:
        if veh.vid not in self._vib:
            rng = np.random.default_rng([self.spec.seed, 5, veh.vid])
            lo, hi = veh.vib_band_hz
            hi = min(hi, 0.45 * self.spec.fs)
            lo = min(lo, 0.5 * hi)
            sos = signal.butter(3, [lo, hi], btype="bandpass", fs=self.spec.fs, output="sos")
            x = signal.sosfilt(sos, rng.standard_normal(self.n_samples))
            self._vib[veh.vid] = (x / (x.std() + 1e-12)).astype(np.float32)
        return self._vib[veh.vid]


SLOPE_PEAK = 1.93      # max |_strain_slope| (gauge averaging lowers it a little)


def _strain_slope(q: np.ndarray) -> np.ndarray:
    """d/dq of the half-space strain kernel ``(1 - 2q^2) / (1 + q^2)^(5/2)``."""
    return (6.0 * q * q * q - 9.0 * q) / (1.0 + q * q) ** 3.5


def _coloured_noise(rng: np.random.Generator, n: int, n_ch: int, alpha: float, fs: float) -> np.ndarray:
    """Unit-std 1/f^alpha noise per channel between ~0.1 Hz and ~20 Hz.

    Three first-order low-passes (poles a decade apart, weighted by the power law) at
    ~100 Hz, linearly interpolated to ``fs``: above ~50 Hz the white noise dominates.
    """
    step = max(1, int(fs // 100))
    n_low = n // step + 2
    low = np.zeros((n_low, n_ch), dtype=np.float32)
    fs_low = fs / step
    for fc in (0.1, 1.0, 10.0):
        a = float(np.exp(-2 * np.pi * fc / fs_low))
        w = rng.standard_normal((n_low, n_ch), dtype=np.float32) * np.float32(np.sqrt(1 - a * a))
        low += np.float32((fc / 0.1) ** (-alpha / 2.0)) * signal.lfilter([1.0], [1.0, -a], w, axis=0).astype(np.float32)
    low /= np.float32(low.std() + 1e-9)
    pos = np.arange(n) / step
    i = pos.astype(np.int64)
    frac = (pos - i).astype(np.float32)[:, None]
    return low[i] * (1 - frac) + low[i + 1] * frac
