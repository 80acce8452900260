"""Per-detection and per-track appearance features a colourless LiDAR can measure.

Per detection (one frame): height, footprint spread (PCA of the ground-plane points), the
fraction of points per height band and the body's radial spread per band. Per track
(aggregated over its frames): a robust height (a high percentile of the per-frame tops,
because the top beam rarely grazes the crown), median widths and profiles, and the gait
period — the dominant frequency of the footprint length along the walking direction, which
oscillates as the legs swing (measurable when the track is long enough).
Also prepares the fixed-size, heading-aligned point sample the embedding model eats.
"""
from __future__ import annotations

import numpy as np

HEIGHT_BANDS = np.linspace(0.0, 2.0, 9)       # 8 bands of 25 cm
EMBEDDING_POINTS = 64
N_DETECTION_FEATURES = 3 + 2 * (len(HEIGHT_BANDS) - 1) + 1


def _unit_headings(headings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos, sin of each heading; (1, 0) where the speed is too low to know it."""
    norm = np.linalg.norm(headings, axis=1)
    known = norm > 0.2
    c = np.where(known, headings[:, 0] / np.maximum(norm, 1e-9), 1.0)
    s = np.where(known, headings[:, 1] / np.maximum(norm, 1e-9), 0.0)
    return c, s, known


def batch_detection_features(points: np.ndarray, starts: np.ndarray, headings: np.ndarray) -> np.ndarray:
    """Feature rows of many detections at once (one frame's worth), no loop over detections.

    ``points`` is the concatenation of the detections' local points (x, y about the centre,
    z above ground), detection ``k`` occupying ``points[starts[k]:starts[k + 1]]``;
    ``headings`` (K, 2) are velocities in the same frame. Row layout: height, major spread,
    minor spread, 8 band fractions, 8 band radial spreads, leg footprint length along the
    heading (0 when the heading is unknown).
    """
    n_det, n_bands = len(starts) - 1, len(HEIGHT_BANDS) - 1
    counts = np.diff(starts)
    owner = np.repeat(np.arange(n_det), counts)
    x, y, z = points[:, 0].astype(np.float64), points[:, 1].astype(np.float64), points[:, 2]
    sums = np.add.reduceat(np.column_stack([x, y, x * x, y * y, x * y]), starts[:-1], axis=0)
    mean_x, mean_y = sums[:, 0] / counts, sums[:, 1] / counts
    dof = np.maximum(counts - 1, 1)
    sxx = (sums[:, 2] - counts * mean_x ** 2) / dof
    syy = (sums[:, 3] - counts * mean_y ** 2) / dof
    sxy = (sums[:, 4] - counts * mean_x * mean_y) / dof
    half_trace, root = (sxx + syy) / 2, np.sqrt(((sxx - syy) / 2) ** 2 + sxy ** 2)
    major, minor = np.sqrt(np.maximum(half_trace + root, 0)), np.sqrt(np.maximum(half_trace - root, 0))
    band = np.clip(np.digitize(z, HEIGHT_BANDS) - 1, 0, n_bands - 1)
    cell = owner * n_bands + band
    band_counts = np.bincount(cell, minlength=n_det * n_bands).reshape(n_det, n_bands).astype(float)
    radius = np.hypot(x, y)
    spread = np.bincount(cell, radius, n_det * n_bands).reshape(n_det, n_bands) / np.maximum(band_counts, 1)
    c, s, known = _unit_headings(headings)
    projection = x * c[owner] + y * s[owner]
    legs = z < 0.6
    along_max = np.full(n_det, -np.inf)
    along_min = np.full(n_det, np.inf)
    np.maximum.at(along_max, owner[legs], projection[legs])
    np.minimum.at(along_min, owner[legs], projection[legs])
    leg_count = np.bincount(owner[legs], minlength=n_det)
    along = np.where(known & (leg_count >= 3), along_max - along_min, 0.0)
    top = np.maximum.reduceat(z, starts[:-1])
    return np.column_stack([top, major, minor, band_counts / counts[:, None], spread, along])


def detection_features(local: np.ndarray, heading: np.ndarray | None = None) -> np.ndarray:
    """Feature row of one detection (see ``batch_detection_features``)."""
    heading = np.zeros(2) if heading is None else np.asarray(heading, float)
    return batch_detection_features(local, np.array([0, len(local)]), heading[None, :])[0]


def segment_features(times: np.ndarray, per_frame: np.ndarray, ring_spacing_m: np.ndarray | None = None) -> dict:
    """Aggregate per-frame feature rows of one track into its descriptor.

    The highest return sits below the crown by up to one ring spacing (uniformly, as the rings
    sweep over the head), so a 16-beam sensor reads people ~10 cm shorter than a 128-beam one.
    With ``ring_spacing_m`` (vertical beam spacing at the person's range, per frame) the height
    is the median of ``top + spacing / 2`` — unbiased whatever the beam pattern — and
    ``height_sigma_m`` says how far to trust it; without it, the 90th percentile of the tops.
    """
    per_frame = np.atleast_2d(per_frame)
    n_bands = len(HEIGHT_BANDS) - 1
    if ring_spacing_m is None:
        height, sigma = float(np.percentile(per_frame[:, 0], 90)), None
    else:
        height = float(np.median(per_frame[:, 0] + ring_spacing_m / 2))
        sigma = round(max(0.03, float(np.median(ring_spacing_m)) / np.sqrt(12)), 4)
    return {
        "height": height,
        "height_sigma_m": sigma,
        "width": float(np.median(per_frame[:, 1])),
        "depth": float(np.median(per_frame[:, 2])),
        "band_fraction": np.median(per_frame[:, 3:3 + n_bands], axis=0).round(4).tolist(),
        "band_spread": np.median(per_frame[:, 3 + n_bands:3 + 2 * n_bands], axis=0).round(4).tolist(),
        "gait_hz": gait_frequency(times, per_frame[:, -1]),
        "frames": int(len(per_frame)),
    }


def gait_frequency(times: np.ndarray, stride_length: np.ndarray, min_frames: int = 30) -> float | None:
    """Dominant 0.5–3 Hz frequency of the leg footprint length; ``None`` if too short or flat."""
    if len(times) < min_frames or np.ptp(stride_length) < 0.05:
        return None
    rate = (len(times) - 1) / max(times[-1] - times[0], 1e-6)
    grid = np.arange(times[0], times[-1], 1 / rate)
    signal = np.interp(grid, times, stride_length)
    spectrum = np.abs(np.fft.rfft(signal - signal.mean()))
    freqs = np.fft.rfftfreq(len(grid), 1 / rate)
    band = (freqs >= 0.5) & (freqs <= 3.0)
    if not band.any():
        return None
    return round(float(freqs[band][np.argmax(spectrum[band])]), 3)


def batch_embedding_input(points: np.ndarray, starts: np.ndarray, headings: np.ndarray) -> np.ndarray:
    """(K, EMBEDDING_POINTS, 3) float32: each detection's points in its walking frame
    (along, across, up), taken evenly through its height-sorted points (deterministic, keeps
    the vertical profile; repeated when there are fewer)."""
    n_det = len(starts) - 1
    counts = np.diff(starts)
    owner = np.repeat(np.arange(n_det), counts)
    order = np.lexsort((points[:, 2], owner))                  # by detection, then by height
    steps = np.linspace(0.0, 1.0, EMBEDDING_POINTS)
    pick = order[starts[:-1, None] + np.round(steps[None, :] * (counts[:, None] - 1)).astype(int)]
    c, s, _ = _unit_headings(headings)
    x, y = points[pick, 0], points[pick, 1]
    along = x * c[:, None] + y * s[:, None]
    across = -x * s[:, None] + y * c[:, None]
    return np.stack([along, across, points[pick, 2]], axis=-1).astype(np.float32)


def embedding_input(local: np.ndarray, heading: np.ndarray | None) -> np.ndarray:
    """(EMBEDDING_POINTS, 3) float32 sample of one detection (see ``batch_embedding_input``)."""
    heading = np.zeros(2) if heading is None else np.asarray(heading, float)
    return batch_embedding_input(local, np.array([0, len(local)]), heading[None, :])[0]
