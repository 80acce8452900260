"""One window of envelope image in, vehicle detections out: the named steps in order.

    normalise_columns (per band; the detection image mixes the quasi-static and 14-40 Hz
    bands by ``detect_weights``) -> directional_smooth (per direction) -> ridge_mask
    -> hough_segments -> segments_to_lines -> merge_lines (DBSCAN) -> split_line (close
    followers) -> dedupe -> fit_line (speed) -> merge_truck_parts -> join_undipped (one
    vehicle seen on two lines) -> line_contrast gate (chance lines) -> line_features

Pure: the same window gives the same detections; state lives in ``streaming.py``.
"""
from __future__ import annotations

import numpy as np

from edge_runtime.das.lines import (ImageAxes, directional_smooth, hough_segments, merge_lines,
                                    normalise_columns, ridge_mask, segments_to_lines)
from edge_runtime.das.cancel import contrast_gate
from edge_runtime.das.params import DetectionParams
from edge_runtime.das.preprocess import Geometry
from edge_runtime.das.suppress import join_undipped
from edge_runtime.das.vehicles import (Detection, dedupe, fit_line, line_features, merge_truck_parts,
                                       split_line)


def window_axes(geometry: Geometry, t_start: float) -> ImageAxes:
    last_channel = geometry.bin_starts[-1] + geometry.bin_counts[-1] - 1
    return ImageAxes(t_start=t_start, out_fs=geometry.out_fs, x_first=float(geometry.bin_centres_m[0]),
                     bin_dx=geometry.bin_size * geometry.dx, x_mid=0.5 * last_channel * geometry.dx)


def candidate_lines(z: np.ndarray, axes: ImageAxes, params: DetectionParams) -> np.ndarray:
    """Hough lines of both directions, merged by DBSCAN: rows ``(t_c, s, x_lo, x_hi, span)``."""
    found = []
    for direction in (+1, -1):
        smoothed = directional_smooth(z, axes, direction, params)
        segments = hough_segments(ridge_mask(smoothed, axes, params), axes, direction, params)
        found.append(segments_to_lines(segments, axes))
    lines = np.vstack(found)
    # merge each direction on its own: opposite lines can cross but are never one vehicle
    merged = [merge_lines(lines[np.sign(lines[:, 1]) == d], axes.x_mid, params) for d in (+1, -1)]
    return np.vstack([m for m in merged if len(m)]) if any(len(m) for m in merged) else np.zeros((0, 5))


def line_candidates(z: np.ndarray, axes: ImageAxes, alive: np.ndarray,
                    params: DetectionParams) -> list[Detection]:
    """Vehicles drawn on ``z`` up to (not including) the contrast gate: Hough lines, split
    into peaks, refitted, truck parts merged, undipped duplicates joined."""
    lines = candidate_lines(z, axes, params)
    candidates = dedupe([det for t_c, slowness, *_ in lines
                         for det in split_line(z, axes, alive, t_c, slowness, params)], params)
    refined = []
    array_m = axes.bin_dx * z.shape[1]
    min_run = min(params.min_run_m, params.min_run_fraction * array_m)
    min_run_partial = min(params.min_run_partial_m, params.min_run_fraction * array_m)
    for det in candidates:
        gaps = [abs(o.t_center - det.t_center) for o in candidates
                if o is not det and o.direction == det.direction]
        halfwidth = min([params.pick_halfwidth_s] + [0.5 * g for g in gaps])
        fitted = fit_line(z, axes, alive, det, halfwidth, min_run_m=min_run,
                          max_scatter_s=params.max_pick_scatter_s, min_run_partial_m=min_run_partial)
        if fitted is not None and fitted.coverage >= params.min_coverage:
            refined.append(fitted)
    detections = merge_truck_parts(dedupe(refined, params), params)
    if params.join_dip > 0:
        detections = join_undipped(z, axes, alive, detections, params)
    return detections


def detect_window(envelope: np.ndarray, geometry: Geometry, t_start: float,
                  params: DetectionParams) -> list[Detection]:
    """Vehicles in one window of ``envelope`` rows ``(time, feature, bin)``."""
    axes = window_axes(geometry, t_start)
    images = [normalise_columns(envelope[:, band, :]) for band in range(3)]
    z, alive = images[0]
    weights = np.asarray(params.detect_weights, dtype=np.float32)
    if np.any(weights[1:] > 0):
        z = np.ascontiguousarray(sum(w * im for w, (im, _) in zip(weights, images) if w > 0) / weights.sum(),
                                 dtype=np.float32)
    detections = line_candidates(z, axes, alive, params)
    if params.min_contrast > 0:
        detections = contrast_gate(z, axes, alive, detections, params)
    for det in detections:
        det.features = line_features([im for im, _ in images], axes, alive, det)
    return detections
