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


def detection_features(local: np.ndarray, heading: np.ndarray | None = None) -> np.ndarray:
    """Feature vector of one detection; ``local`` is (n, 3): x, y about the centre, z above ground.

    Layout: height, major spread, minor spread, 8 band fractions, 8 band radial spreads,
    footprint length along ``heading`` (0 when unknown).
    """
    xy, z = local[:, :2], local[:, 2]
    centred = xy - xy.mean(axis=0)
    eigen = np.sqrt(np.maximum(np.linalg.eigvalsh(centred.T @ centred / max(len(xy) - 1, 1)), 0))
    band = np.clip(np.digitize(z, HEIGHT_BANDS) - 1, 0, len(HEIGHT_BANDS) - 2)
    counts = np.bincount(band, minlength=len(HEIGHT_BANDS) - 1).astype(float)
    radius = np.linalg.norm(xy, axis=1)
    spread = np.bincount(band, weights=radius, minlength=len(HEIGHT_BANDS) - 1) / np.maximum(counts, 1)
    along = 0.0
    if heading is not None and np.linalg.norm(heading) > 0.2:
        projection = xy @ (heading / np.linalg.norm(heading))
        legs = z < 0.6
        if legs.sum() >= 3:
            along = float(np.ptp(projection[legs]))
    return np.concatenate([[z.max(), eigen[1], eigen[0]], counts / max(len(z), 1), spread, [along]])


def segment_features(times: np.ndarray, per_frame: np.ndarray) -> dict:
    """Aggregate per-frame feature rows of one track into its descriptor."""
    per_frame = np.atleast_2d(per_frame)
    n_bands = len(HEIGHT_BANDS) - 1
    return {
        "height": float(np.percentile(per_frame[:, 0], 90)),
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


def embedding_input(local: np.ndarray, heading: np.ndarray | None) -> np.ndarray:
    """(EMBEDDING_POINTS, 3) float32: points in the walking frame (along, across, up).

    Points are taken evenly through the height-sorted cloud (deterministic, keeps the
    vertical profile) and repeated when there are fewer.
    """
    if heading is not None and np.linalg.norm(heading) > 0.2:
        c, s = heading / np.linalg.norm(heading)
    else:
        c, s = 1.0, 0.0
    along = local[:, 0] * c + local[:, 1] * s
    across = -local[:, 0] * s + local[:, 1] * c
    ordered = np.argsort(local[:, 2], kind="stable")
    pick = ordered[np.linspace(0, len(ordered) - 1, EMBEDDING_POINTS).round().astype(int)]
    return np.column_stack([along[pick], across[pick], local[pick, 2]]).astype(np.float32)
