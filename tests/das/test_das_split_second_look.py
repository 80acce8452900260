"""A weak car's own line next to a strong, broad follower: ``split_line``'s slowness
refinement tilts the trial lines into the follower's track (the median over bins is
larger there), and the profile at the refined slowness shows the follower only. The
profile at the Hough line's own slowness still has the car's peak, with a dip to the
follower; when the refinement ended at the edge of its range and left no peak at the
line, ``split_line`` takes a second look there."""
from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.das.lines import ImageAxes
from edge_runtime.das.params import DetectionParams
from edge_runtime.das.vehicles import split_line

DX = 5.0


def _leader_and_truck(n_bins: int = 100, kmh: float = 60.0, gap_s: float = 2.4, seed: int = 1):
    """SNR image: a weak car at 30 s (1 noise unit, 0.3-s hump) and 2.4 s behind it a
    heavy vehicle ten times stronger whose envelope is 0.8 s wide, same speed."""
    axes = ImageAxes(t_start=0.0, out_fs=25.0, x_first=0.0, bin_dx=DX, x_mid=0.5 * (n_bins - 1) * DX)
    rng = np.random.default_rng(seed)
    t = np.arange(1500)[:, None] / axes.out_fs
    x = axes.x_of(np.arange(n_bins))[None, :] - axes.x_mid
    slowness = 3.6 / kmh
    z = 0.3 * np.abs(rng.standard_normal((1500, n_bins)))
    z += 1.0 * np.exp(-0.5 * ((t - (30.0 + slowness * x)) / 0.3) ** 2)
    z += 10.0 * np.exp(-0.5 * ((t - (30.0 + gap_s + slowness * x)) / 0.8) ** 2)
    return z.astype(np.float32), axes, np.ones(n_bins, dtype=bool), slowness


# noise draws for which the refinement ends at the edge of its +-8 % range and the single
# look loses the car (of draws 1-10 at these settings it loses 4 and the second look recovers
# 2: 1 and 5; the others show no dip to the truck at the Hough slowness either)
@pytest.mark.parametrize("seed", [1, 5, 19, 25])
def test_weak_leader_on_its_own_line_is_kept(seed):
    z, axes, alive, slowness = _leader_and_truck(seed=seed)
    found = split_line(z, axes, alive, 30.0, slowness, DetectionParams())
    assert any(abs(d.t_center - 30.0) < 0.3 for d in found), [(d.t_center, d.slowness / slowness) for d in found]


def test_the_follower_alone_gets_no_second_peak():
    # the truck's own line: one candidate, at the truck (the second look only runs when the
    # refined profile has nothing at the line, and only keeps a peak with a dip to the rest)
    z, axes, alive, slowness = _leader_and_truck(gap_s=2.4)
    z_truck = z - 1.0 * np.exp(-0.5 * ((np.arange(1500)[:, None] / 25.0
                                        - (30.0 + slowness * (axes.x_of(np.arange(z.shape[1]))[None, :] - axes.x_mid)))
                                       / 0.3) ** 2).astype(np.float32)
    found = split_line(z_truck, axes, alive, 32.4, slowness, DetectionParams())
    assert len(found) == 1 and abs(found[0].t_center - 32.4) < 0.3, [(d.t_center, d.strength) for d in found]
