"""The contrast gate (``cancel.py``): a weak car crossing a strong truck is kept (successive
cancellation), and so is a slow truck whose own envelope is seconds wide."""
from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.das.cancel import track_mask
from edge_runtime.das.lines import ImageAxes
from edge_runtime.das.params import DetectionParams
from edge_runtime.das.pipeline import detect_window
from edge_runtime.das.preprocess import make_geometry
from edge_runtime.das.vehicles import Detection

N_BINS, DX = 60, 5.0


def _noise_window(seed: int):
    """Envelope rows of one 60-s window of unit noise, their times and positions."""
    g = make_geometry(100.0, DX, N_BINS, DetectionParams())
    rng = np.random.default_rng(seed)
    rows = int(60 * g.out_fs)
    t = np.arange(rows)[:, None] / g.out_fs
    x = g.bin_centres_m[None, :] - 0.5 * (N_BINS - 1) * DX
    return 1.0 + 0.25 * np.abs(rng.standard_normal((rows, 3, N_BINS))), g, t, x


def _add(env: np.ndarray, bump: np.ndarray) -> None:
    """A vehicle in the quasi-static and 14-40 Hz bands (the detection image's two)."""
    env[:, 0, :] += bump
    env[:, 2, :] += bump


def _crossing_envelope(seed: int, weak: float = 1.5, strong: float = 40.0):
    """One window of envelope rows: a strong, long vehicle at +80 km/h and a weak car at
    -60 km/h crossing it at the array's middle 0.1 s later, over unit noise."""
    env, g, t, x = _noise_window(seed)
    for t_c, kmh, amp, width_s in [(30.0, 80.0, strong, 0.5), (30.1, -60.0, weak, 0.15)]:
        _add(env, amp * np.exp(-0.5 * ((t - (t_c + 3.6 / kmh * x)) / width_s) ** 2))
    return env.astype(np.float32), g


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weak_car_crossing_a_strong_truck_is_found(seed):
    env, g = _crossing_envelope(seed)
    found = detect_window(env, g, 0.0, DetectionParams())
    speeds = sorted(round(d.speed_kmh) for d in found)
    assert len(found) == 2, f"expected both vehicles, got {speeds}"
    assert speeds[0] < 0 < speeds[1]
    assert all(abs(d.t_center - 30.05) < 0.3 for d in found)


def test_without_cancellation_the_crossing_car_is_lost():
    """The case the mask exists for: judged against shifted copies that cross the truck,
    the weak car fails the contrast gate."""
    env, g = _crossing_envelope(0)
    found = detect_window(env, g, 0.0, DetectionParams(cancel_halfwidth_s=0.0))
    assert [d.direction for d in found] == [1]


def test_track_mask_covers_each_line_and_nothing_else():
    axes = ImageAxes(t_start=10.0, out_fs=25.0, x_first=0.0, bin_dx=5.0, x_mid=100.0)
    dets = [Detection(20.0, 0.05, 1.0), Detection(30.0, -0.04, 1.0)]
    mask = track_mask((1500, 41), axes, dets, 0.2, np.array([0.2, 0.6]))
    x = axes.x_of(np.arange(41)) - axes.x_mid
    t = axes.t_start + np.arange(1500)[:, None] / axes.out_fs
    inside = np.zeros_like(mask)
    for d, after in zip(dets, (0.2, 0.6)):
        lag = t - (d.t_center + d.slowness * x[None, :])
        inside |= (lag >= -0.2 + 1e-6) & (lag <= after - 1e-6)
    assert mask[inside].all()
    near = np.zeros_like(mask)
    for d, after in zip(dets, (0.2, 0.6)):
        lag = t - (d.t_center + d.slowness * x[None, :])
        near |= (lag >= -0.2 - 0.05) & (lag <= after + 0.05)
    assert not mask[~near].any()


def _slow_truck_envelope(seed: int, half_s: float = 2.5):
    """One window: a -28 km/h truck whose slant stack stays above half its peak for
    +-``half_s`` (as a slow heavy truck far from the cable, or one whose speed is a few
    per cent off on a long array, gives), over unit noise."""
    env, g, t, x = _noise_window(seed)
    _add(env, 5.0 / (1.0 + ((t - (30.0 - 3.6 / 28.0 * x)) / half_s) ** 2))
    return env.astype(np.float32), g


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_slow_truck_whose_envelope_fills_seconds_passes_the_gate(seed):
    env, g = _slow_truck_envelope(seed)
    found = detect_window(env, g, 0.0, DetectionParams())
    assert [round(d.speed_kmh) for d in found] == [-28]
    assert abs(found[0].t_center - 30.0) < 0.3
    # the previous reach (+-3 s) took its 25th percentile inside the truck's own envelope
    assert detect_window(env, g, 0.0, DetectionParams(contrast_reach_s=3.0)) == []
