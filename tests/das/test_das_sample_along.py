"""``sample_along`` gives the values and masks of its earlier form, bit for bit.

Since issue 17's ninth session it tests the rows' range with one unsigned comparison and
takes the flat index with ``mode="clip"`` instead of clipping the rows first; lines that
leave the window at either end, dead bins and NaN pixels are what could tell them apart.
"""
from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.das.lines import ImageAxes
from edge_runtime.das.vehicles import _bin_rows, sample_along


def _clipped_rows(z, axes, alive, t_c, slowness):
    """The earlier form: three comparisons, rows clipped, index built in temporaries."""
    x_rows, columns = _bin_rows(axes, z.shape[1])
    t_rows = (np.asarray(t_c, dtype=np.float64) - axes.t_start) * axes.out_fs + 0.5
    rows = (t_rows[..., None] + np.asarray(slowness)[..., None] * x_rows).astype(np.int64)
    valid = (rows >= 0) & (rows < z.shape[0]) & alive
    np.clip(rows, 0, z.shape[0] - 1, out=rows)
    values = np.take(z.ravel(), rows * z.shape[1] + columns)
    valid &= values == values
    values[~valid] = 0.0
    return values, valid


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sample_along_equals_clipped_rows(dtype):
    rng = np.random.default_rng(11)
    n_rows, n_bins = 1500, 97
    z = rng.random((n_rows, n_bins)).astype(dtype)
    z[rng.random(z.shape) < 0.02] = np.nan                  # masked pixels
    alive = rng.random(n_bins) > 0.1                        # dead bins
    axes = ImageAxes(t_start=40.0, out_fs=25.0, x_first=2.5, bin_dx=5.0, x_mid=245.0)
    near = np.arange(-0.4, 0.4 + 1e-9, 0.04)
    factors = 1.0 + np.linspace(-0.08, 0.08, 9)
    checked = out_of_window = 0
    for t in (40.0, 41.2, 70.0, 99.3, 101.5, 35.0):         # lines leaving the window early / late
        for s in (0.05, -0.05, 0.2, -0.31, 0.004):
            for t_c, slowness in ((t + near[None, :], s * factors[:, None]),
                                  (t + np.arange(-1.6, 1.6 + 1e-9, 0.04), np.asarray(s)),
                                  (np.asarray(t), np.asarray(s))):
                a, va = _clipped_rows(z, axes, alive, t_c, slowness)
                b, vb = sample_along(z, axes, alive, t_c, slowness)
                assert a.shape == b.shape and a.dtype == b.dtype
                assert a.tobytes() == b.tobytes()
                assert np.array_equal(va, vb)
                checked += 1
                out_of_window += int((~va & alive).any())
    assert checked == 90 and out_of_window > 20
