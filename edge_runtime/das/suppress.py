"""One report per vehicle: join detections that are one vehicle seen twice.

Different Hough lines of one slow or long vehicle (a truck's axle groups, the two
lobes of a deep cable's wavelet) can each survive ``fit_line`` and come out as two
detections of one direction 1-3 s apart at nearly the same speed. Two *vehicles* that
close leave a quiet road between them; one vehicle does not. ``join_undipped`` therefore
stacks the image along the line between the two and keeps only the stronger detection
when the stack never dips below ``join_dip`` x the weaker end — the same test
``group_peaks`` applies inside one line's profile, applied across lines.

``line_contrast`` is the other half of "one report per vehicle, none without one": a
vehicle's line stands out of the same line shifted by a few seconds; a chance line
through a busy image (a channel-shuffled record whose bins each mix channels from all
along the cable) is barely brighter than its shifted copies.
"""
from __future__ import annotations

import numpy as np

from edge_runtime.das.lines import ImageAxes
from edge_runtime.das.params import DetectionParams
from edge_runtime.das.vehicles import Detection, sample_along, slant_stack


def undipped(z: np.ndarray, axes: ImageAxes, alive: np.ndarray, a: Detection, b: Detection,
             dip: float) -> bool:
    """Whether the slant stack from ``a`` to ``b`` (along the stronger one's slowness)
    stays above ``dip`` x the smaller of its two ends."""
    strong = a if a.strength >= b.strength else b
    lo, hi = sorted((a.t_center, b.t_center))
    taus = np.arange(lo, hi + 0.5 / axes.out_fs, 1.0 / axes.out_fs)
    if taus.size < 3:
        return True
    profile = slant_stack(z, axes, alive, taus, np.asarray(strong.slowness))
    ends = min(profile[:2].max(), profile[-2:].max())
    return bool(ends > 0 and profile.min() > dip * ends)


def join_undipped(z: np.ndarray, axes: ImageAxes, alive: np.ndarray, detections: list[Detection],
                  params: DetectionParams) -> list[Detection]:
    """Drop each detection that an undipped stack joins to a stronger one of its lane."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: -d.strength):
        joined = any(k.direction == det.direction
                     and abs(k.t_center - det.t_center) < params.join_reach_s
                     and abs(k.slowness - det.slowness) < params.join_slowness_share * abs(k.slowness)
                     and undipped(z, axes, alive, k, det, params.join_dip)
                     for k in kept)
        if not joined:
            kept.append(det)
    return sorted(kept, key=lambda d: d.t_center)


def line_contrast(z: np.ndarray, axes: ImageAxes, alive: np.ndarray, det: Detection,
                  reach_s: float, quantile: float = 0.5, peak_s: float = 0.2,
                  background: np.ndarray | None = None) -> float:
    """Slant-stack peak within ``peak_s`` of the line over the ``quantile`` of the stack
    along the same slowness from ``-reach_s`` to ``+reach_s`` (a low quantile: a strong
    neighbour on one side must not hide a weak follower).

    ``background`` (default ``z``) is the image the shifted copies are stacked on: ``z``
    with the other vehicles' tracks masked (``cancel.without_tracks``), so that a strong
    vehicle crossing or following this one does not count as its surroundings; copies
    that lose more than half their bins to the mask are left out of the quantile.
    """
    taus = np.arange(-reach_s, reach_s + 0.5 / axes.out_fs, 1.0 / axes.out_fs)
    profile = slant_stack(z, axes, alive, det.t_center + taus, np.asarray(det.slowness))
    peak = float(profile[np.abs(taus) <= peak_s].max())
    if background is not None:
        values, valid = sample_along(background, axes, alive, det.t_center + taus, np.asarray(det.slowness))
        count = valid.sum(axis=-1)
        keep = count >= max(8, 0.5 * count.max())
        profile = values.sum(axis=-1)[keep] / count[keep] if keep.sum() >= 0.25 * taus.size else profile
    return peak / max(float(np.quantile(profile, quantile)), 1e-3)
