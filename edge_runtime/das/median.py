"""``median``: exactly ``np.median``'s value, about 5x faster on the pipeline's images.

``np.median`` partitions a copy around *both* middle elements (two order statistics at
once), which on a 1500 x 524 float32 envelope image took 8-13 ms, a fifth of the window
stage on a 524-bin scene (issue 17: the speed ratio to dasly on seed 2003). One
partition at the upper middle element and a max over the lower half give the same two
elements, so the same value bit for bit (their mean is taken in the array's dtype, as
``np.median`` does). NaN-containing, non-float or empty input goes to ``np.median``
(whose NaN propagation a partition would not reproduce).
"""
from __future__ import annotations

import numpy as np


def median(x: np.ndarray, axis: int | None = None) -> np.ndarray:
    """``np.median(x, axis)`` for ``axis`` None or one axis (no ``keepdims``)."""
    x = np.asarray(x)
    if x.size == 0 or not np.issubdtype(x.dtype, np.floating) or np.isnan(x).any():
        return np.median(x, axis=axis)
    work = x.flatten() if axis is None else np.moveaxis(x, axis, -1).copy()   # contiguous copy
    n = work.shape[-1]
    k = n // 2
    work.partition(k, axis=-1)
    upper = work[..., k]
    if n % 2:
        return upper.copy() if isinstance(upper, np.ndarray) else upper
    return (work[..., :k].max(axis=-1) + upper) / x.dtype.type(2)
