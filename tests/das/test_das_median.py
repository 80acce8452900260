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


def test_merge_lines_clusters_as_sklearn_dbscan():
    """``lines._dbscan_one`` replaced scikit-learn's DBSCAN(min_samples=1, precomputed) in
    ``merge_lines``: the same labels, numbered the same way, ties at eps included."""
    DBSCAN = pytest.importorskip("sklearn.cluster").DBSCAN
    from edge_runtime.das.lines import _dbscan_one
    rng = np.random.default_rng(3)
    for trial in range(300):
        n = int(rng.integers(1, 40))
        t = rng.uniform(0, 8, (n, 1))
        d = np.abs(t - t.T)
        if trial % 2:
            d = np.round(d, 1)                     # gaps exactly at eps
        want = DBSCAN(eps=0.35, min_samples=1, metric="precomputed").fit_predict(d)
        assert np.array_equal(_dbscan_one(d, 0.35), want)


def test_running_max_along_time_as_scipy():
    """``lines._max_along_time`` (OpenCV dilate) equals scipy's ``maximum_filter1d``."""
    from scipy.ndimage import maximum_filter1d
    from edge_runtime.das.lines import _max_along_time
    rng = np.random.default_rng(4)
    for shape, half in [((1500, 131), 8), ((9, 5), 8), ((40, 1), 3), ((1, 7), 2)]:
        x = rng.standard_normal(shape).astype(np.float32)
        x[::5] = np.round(x[::5], 1)               # ties
        assert np.array_equal(_max_along_time(x, half),
                              maximum_filter1d(x, size=2 * half + 1, axis=0, mode="nearest"))
