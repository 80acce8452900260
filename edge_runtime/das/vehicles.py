"""From merged lines to vehicles: split close followers, fit speed, measure features.

A merged Hough line is only a hint. Along it we stack the SNR image ("slant stack":
shift each bin by the line's slowness, average over bins) at the full envelope rate.
Two vehicles in one lane a second apart are two peaks in that profile even when their
Hough lines fell into one DBSCAN cluster; ``split_line`` turns each peak into its own
candidate when the profile dips between them (``group_peaks``). ``fit_line`` then takes
the arrival time in every bin near the candidate (centre of mass of the SNR) and fits a
robust straight line, which is where the speed comes from (Hough angles are only
0.25 deg coarse). ``merge_truck_parts`` joins the axle groups of one truck that came out
as two peaks, and ``line_features`` measures the classifier's inputs.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import find_peaks

from edge_runtime.das.lines import KMH, ImageAxes
from edge_runtime.das.median import median
from edge_runtime.das.params import DetectionParams


@dataclass
class Detection:
    """One vehicle seen in one window (times in s from the stream start)."""

    t_center: float
    slowness: float                     # s/m, sign = direction
    strength: float                     # slant-stack peak (SNR units)
    coverage: float = 0.0               # share of live bins with a clear arrival
    features: dict[str, float] = field(default_factory=dict)

    @property
    def direction(self) -> int:
        return 1 if self.slowness > 0 else -1

    @property
    def speed_kmh(self) -> float:
        return KMH / self.slowness


@functools.lru_cache(maxsize=16)
def _bin_rows(axes: ImageAxes, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Each bin's offset from the array's middle in rows of time per unit slowness, and the
    column indices: the same for every line of a window, so computed once per window."""
    columns = np.arange(n_bins)
    x_rows = (axes.x_of(columns) - axes.x_mid) * axes.out_fs
    x_rows.flags.writeable = columns.flags.writeable = False
    return x_rows, columns


def sample_along(z: np.ndarray, axes: ImageAxes, alive: np.ndarray, t_c: np.ndarray,
                 slowness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of ``z`` on lines ``(t_c, slowness)`` (broadcast shapes), one column per bin.

    Returns ``(values, valid)`` of shape ``broadcast(t_c, slowness) + (n_bins,)``;
    ``valid`` is False where the line leaves the window, the bin is dead or the pixel is
    NaN (masked out, e.g. another vehicle's track: ``cancel.without_tracks``).
    """
    x_rows, columns = _bin_rows(axes, z.shape[1])
    t_rows = (np.asarray(t_c, dtype=np.float64) - axes.t_start) * axes.out_fs + 0.5
    rows = (t_rows[..., None] + np.asarray(slowness)[..., None] * x_rows).astype(np.int64)
    # in range <=> 0 <= rows < n_rows: one unsigned comparison (negatives wrap to huge); the
    # flat index built in place and taken with mode="clip" instead of clipping the rows
    # first: only the out-of-range pixels differ, and those are zeroed below (exact; a fifth
    # to a third less CPU than three comparisons, a clip and two temporaries; test_das_sample_along)
    valid = rows.view(np.uint64) < z.shape[0]
    valid &= alive
    rows *= z.shape[1]
    rows += columns
    values = np.take(z.ravel(), rows, mode="clip")
    valid &= values == values                      # NaN != NaN: masked pixels
    values[~valid] = 0.0
    return values, valid


def slant_stack(z: np.ndarray, axes: ImageAxes, alive: np.ndarray, t_c: np.ndarray,
                slowness: np.ndarray, min_bins: int = 8) -> np.ndarray:
    """Mean of ``z`` along each line; lines that see fewer than ``min_bins`` bins get 0."""
    values, valid = sample_along(z, axes, alive, t_c, slowness)
    count = valid.sum(axis=-1)
    return np.where(count >= min_bins, values.sum(axis=-1) / np.maximum(count, 1), 0.0)


def split_line(z: np.ndarray, axes: ImageAxes, alive: np.ndarray, t_c: float, slowness: float,
               params: DetectionParams, reach_s: float = 1.6) -> list[Detection]:
    """All vehicles along one merged line: peaks of the slant stack near it."""
    # slowness first (Hough angles are coarse), on a short stretch of time around the line
    near = np.arange(-0.4, 0.4 + 1e-9, 1.0 / axes.out_fs)
    factors = 1.0 + np.linspace(-0.08, 0.08, 9)
    # median over bins: a strong neighbour crossing half the line must not pull it over; only
    # over bins every trial line sees (a slow vehicle on a long array leaves the window over
    # most of the cable, and a median over zeros would pick the first factor, 8 % off)
    values, valid = sample_along(z, axes, alive, t_c + near[None, :], slowness * factors[:, None])
    seen = valid.all(axis=(0, 1))
    if seen.sum() >= 8:
        values = values[..., seen]
    hough = slowness
    best = int(np.argmax(median(values, axis=-1).max(axis=1)))
    slowness *= float(factors[best])
    taus = np.arange(-reach_s, reach_s + 1e-9, 1.0 / axes.out_fs)
    found, _ = _profile_peaks(z, axes, alive, t_c, slowness, taus, params)
    if best in (0, len(factors) - 1) and not any(abs(d.t_center - t_c) <= SECOND_LOOK_S for d in found):
        found += _second_look(z, axes, alive, t_c, hough, taus, found, params)
    return found


SECOND_LOOK_S = 0.4      # the stretch around the Hough line the refinement searched


def _second_look(z: np.ndarray, axes: ImageAxes, alive: np.ndarray, t_c: float, hough: float,
                 taus: np.ndarray, found: list[Detection], params: DetectionParams) -> list[Detection]:
    """Peaks at the Hough line itself on the profile along the Hough slowness, when the
    refined one has none there.

    The refinement keeps the trial slowness with the largest median stack near the line;
    beside a strong, broad vehicle 1-2.5 s away a trial tilted into its track can win
    (the median over the bins it crosses is larger), and the weak vehicle whose line it
    was leaves no peak (tuning seeds: weak leaders of stronger followers, the refinement
    at the end of its +-8 % range). A peak kept here must lie within ``SECOND_LOOK_S`` of
    the line and dip (``split_dip``, as ``group_peaks``) to every peak already found.
    Tuning seeds 1000-1095: misses 173 -> 170, FP 33 and channel-shuffled ghosts 19 the
    same (taking the second look on every refined line instead of only at the range's
    edge: misses 170, FP 34, and more CPU).
    """
    extra, profile = _profile_peaks(z, axes, alive, t_c, hough, taus, params)

    def index(t: float) -> int:
        return int(np.clip(round((t - t_c - taus[0]) * axes.out_fs), 0, len(profile) - 1))

    def apart(i: int, j: int) -> bool:
        lo, hi = min(i, j), max(i, j)
        return bool(profile[lo:hi + 1].min() <= params.split_dip * min(profile[i], profile[j]))

    return [d for d in extra if abs(d.t_center - t_c) <= SECOND_LOOK_S
            and all(apart(index(d.t_center), index(f.t_center)) for f in found)]


def _profile_peaks(z: np.ndarray, axes: ImageAxes, alive: np.ndarray, t_c: float, slowness: float,
                   taus: np.ndarray, params: DetectionParams) -> tuple[list[Detection], np.ndarray]:
    """Candidates at the peaks of the slant-stack profile along ``slowness`` over
    ``t_c + taus`` (grouped by ``group_peaks``), and the profile."""
    profile = _smooth(slant_stack(z, axes, alive, t_c + taus, np.asarray(slowness)),
                      axes.out_fs, params.profile_smooth_s)
    top = float(profile.max())
    if top < params.min_stack_snr:
        return [], profile
    peaks, _ = find_peaks(profile, height=max(params.min_stack_snr, params.peak_fraction * top))
    edge = int(round(0.2 * axes.out_fs))
    peaks = [p for p in group_peaks(profile, peaks, params.split_dip) if edge <= p < len(profile) - edge]
    return [Detection(t_c + float(taus[p]), slowness, float(profile[p])) for p in peaks], profile


def group_peaks(profile: np.ndarray, peaks: np.ndarray, split_dip: float) -> list[int]:
    """One peak per vehicle: neighbouring peaks are one vehicle unless the profile
    between them falls to ``split_dip`` x the smaller one.

    Between two vehicles the road goes quiet; between a truck's axle groups it does not.
    Distance alone cannot tell them apart (a truck's humps can be further apart than a
    car following at 0.8 s), the depth of the dip can.
    """
    groups: list[int] = []
    for p in peaks:
        if groups:
            last = groups[-1]
            dip = profile[min(last, p):max(last, p) + 1].min()
            if dip > split_dip * min(profile[last], profile[p]):
                if profile[p] > profile[last]:
                    groups[-1] = int(p)
                continue
        groups.append(int(p))
    return groups


def _longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True in a 1-D mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, stops = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    return int((stops - starts).max()) if starts.size else 0


def fit_line(z: np.ndarray, axes: ImageAxes, alive: np.ndarray, det: Detection,
             halfwidth_s: float, min_pick_snr: float = 1.0, min_run_m: float = 0.0,
             max_scatter_s: float = np.inf, min_run_partial_m: float | None = None) -> Detection | None:
    """Refit ``det`` from per-bin arrival times within ``halfwidth_s`` of its line.

    A vehicle lights a contiguous stretch of the cable (``min_run_m`` without a gap; dead
    bins do not break it); bright spots that merely happen to align, as in channel-shuffled
    data, light scattered bins and are rejected however many there are. A line that leaves the
    window over part of the cable (a slow vehicle on a long array) must show a longer run,
    ``min_run_partial_m`` (tuning seeds 1000-1095: such chance lines in channel-shuffled
    scenes had runs of 30-48 m, real vehicles' partial lines mostly longer).

    The arrival in each bin is the centre of mass of the SNR above a small floor, not
    the argmax: a truck's axle groups make several bumps and the argmax would jump
    between them from bin to bin.
    """
    offsets = np.arange(-halfwidth_s, halfwidth_s + 1e-9, 1.0 / axes.out_fs)
    values, valid = sample_along(z, axes, alive, det.t_center + offsets, np.asarray(det.slowness))
    weights = np.maximum(values - 0.5, 0.0) * valid                    # (n_off, n_bins)
    mass = weights.sum(axis=0)
    peak = values.max(axis=0)
    in_window = valid.all(axis=0)
    lit = in_window & (peak > min_pick_snr) & (mass > 0)
    coverage = float(lit.sum() / max(in_window.sum(), 1))
    partial = min_run_partial_m is not None and in_window.sum() < 0.95 * max(int(alive.sum()), 1)
    if lit.sum() < 6 or _longest_run(lit | ~alive) * axes.bin_dx < (min_run_partial_m if partial else min_run_m):
        return None
    centre = (weights * offsets[:, None]).sum(axis=0) / np.maximum(mass, 1e-9)
    dx = axes.x_of(np.arange(z.shape[1])) - axes.x_mid
    t_pick = det.t_center + det.slowness * dx + centre
    t_c, slowness = _robust_line(dx[lit], t_pick[lit], mass[lit])
    if slowness == 0 or np.sign(slowness) != np.sign(det.slowness):
        return None
    scatter = 1.4826 * float(median(np.abs(t_pick[lit] - (t_c + slowness * dx[lit]))))
    if scatter > max_scatter_s:          # picks of one vehicle line up; chance alignments do not
        return None
    return Detection(t_c, slowness, det.strength, coverage)


def _smooth(profile: np.ndarray, out_fs: float, seconds: float) -> np.ndarray:
    width = max(1, int(round(seconds * out_fs)))
    if width == 1:
        return profile
    return np.convolve(np.pad(profile, width, mode="edge"), np.ones(width) / width, mode="same")[width:-width]


def _robust_line(x: np.ndarray, t: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted least squares ``t = a + b x``, refit once without outliers."""
    keep = np.ones(x.size, dtype=bool)
    a = b = 0.0
    for _ in range(3):
        w = np.sqrt(weights[keep])
        design = np.column_stack([np.ones(keep.sum()), x[keep]]) * w[:, None]
        (a, b), *_ = np.linalg.lstsq(design, t[keep] * w, rcond=None)
        resid = np.abs(t - (a + b * x))
        scale = 1.4826 * median(resid[keep]) + 0.02
        keep = resid < 3.0 * scale
        if keep.sum() < 4:
            break
    return float(a), float(b)


def line_features(images: np.ndarray, axes: ImageAxes, alive: np.ndarray, det: Detection) -> dict[str, float]:
    """Classifier inputs measured around one vehicle's line (documented in docs/das.md).

    * ``qs_snr``: median over bins of the quasi-static SNR peak at the line (log10);
    * ``vib_low`` / ``vib_high``: same for the 4-14 Hz and 14-40 Hz vibration envelopes;
    * ``vib_ratio``: ``vib_low - vib_high`` (trucks shake the road lower and harder);
    * ``length_m``: half-maximum width of the aligned quasi-static profile times speed;
    * ``log_speed``: log10 of the speed in km/h (strain *rate* scales with speed, so the
      load features of a slow truck read like a car's without it; trucks also drive slower).
    """
    speed = abs(KMH / det.slowness) / KMH
    offsets = np.arange(-0.8, 0.8 + 1e-9, 1.0 / axes.out_fs)
    feats: dict[str, float] = {}
    profiles = []
    for name, image in zip(("qs_snr", "vib_low", "vib_high"), images):
        values, valid = sample_along(image, axes, alive, det.t_center + offsets,
                                     np.asarray(det.slowness))
        columns = valid.all(axis=0)
        if not columns.any():
            columns = valid.any(axis=0)
        peak = values[:, columns].max(axis=0)
        feats[name] = float(np.log10(1.0 + median(peak)))
        profiles.append(median(values[:, columns], axis=1))
    feats["vib_ratio"] = feats["vib_low"] - feats["vib_high"]
    qs = profiles[0]
    above = np.nonzero(qs >= 0.5 * qs.max())[0] if qs.max() > 0 else np.array([0])
    feats["length_m"] = float((above[-1] - above[0] + 1) / axes.out_fs * speed)
    feats["log_speed"] = float(np.log10(abs(det.speed_kmh)))
    return feats


def dedupe(candidates: list[Detection], params: DetectionParams) -> list[Detection]:
    """Keep the strongest of candidates that are the same vehicle seen twice."""
    kept: list[Detection] = []
    for cand in sorted(candidates, key=lambda d: -d.strength):
        same = [k for k in kept if k.direction == cand.direction
                and abs(k.t_center - cand.t_center) < 0.8 * params.min_headway_s
                and abs(k.slowness - cand.slowness) < 0.15 * abs(k.slowness)]
        if not same:
            kept.append(cand)
    return sorted(kept, key=lambda d: d.t_center)


def merge_truck_parts(detections: list[Detection], params: DetectionParams) -> list[Detection]:
    """Join detections that are parts of one long, heavy vehicle; drop faint echoes.

    A truck's axle groups can leave two strong peaks a few metres apart. Two *separate*
    heavy vehicles need their bodies' length between them, so two comparable, strong
    detections of one direction and speed closer than ``truck_part_spacing_m`` are one
    truck. A detection below ``echo_fraction`` of such a neighbour within the same
    spacing is the neighbour's side lobe, not a vehicle.
    """
    out = sorted(detections, key=lambda d: -d.strength)
    kept: list[Detection] = []
    for det in out:
        absorbed = False
        for big in kept:
            # a split-off part's speed is poorly fitted, hence the loose 10 %
            same_lane = big.direction == det.direction and abs(big.slowness - det.slowness) < 0.1 * abs(big.slowness)
            spacing_m = abs(big.t_center - det.t_center) / abs(big.slowness)
            if not same_lane:
                continue
            comparable = det.strength >= 0.4 * big.strength and big.strength >= params.truck_strength
            echo = det.strength < params.echo_fraction * big.strength
            if (comparable and spacing_m < params.truck_part_spacing_m) or \
                    (echo and spacing_m < 1.5 * params.truck_part_spacing_m):
                absorbed = True
                break
        if not absorbed:
            kept.append(det)
    return sorted(kept, key=lambda d: d.t_center)
