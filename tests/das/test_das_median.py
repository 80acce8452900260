"""``median.median`` gives exactly ``np.median``'s value (it replaces it in the window stage)."""
from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.das.median import median


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (8, 6), (1500, 3, 131), (301, 2)])
def test_same_value_as_numpy_bit_for_bit(dtype, shape):
    rng = np.random.default_rng(sum(shape))
    x = (np.abs(rng.standard_normal(shape)) * 1e-3).astype(dtype)
    x.flat[::7] = x.flat[0]                       # ties
    for axis in [None] + list(range(len(shape))):
        got, want = median(x, axis=axis), np.median(x, axis=axis)
        assert np.asarray(got).dtype == np.asarray(want).dtype
        assert np.array_equal(got, want), (shape, axis)


def test_strided_views_and_the_input_is_not_reordered():
    rng = np.random.default_rng(1)
    env = rng.random((400, 3, 50), dtype=np.float32)
    before = env.copy()
    for band in range(3):
        assert np.array_equal(median(env[:, band, :], axis=0), np.median(env[:, band, :], axis=0))
    assert np.array_equal(median(env[:, 0, ::3], axis=1), np.median(env[:, 0, ::3], axis=1))
    assert np.array_equal(env, before)


def test_nan_propagates_like_numpy():
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    x[1, 2] = np.nan
    assert np.array_equal(median(x, axis=0), np.median(x, axis=0), equal_nan=True)
    assert np.isnan(median(x))
