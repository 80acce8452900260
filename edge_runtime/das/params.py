"""Every tunable number of the DAS traffic pipeline, in one place, in physical units.

Values are in seconds, metres, Hz and km/h (never in samples or pixels) so the same
parameters serve a 1 kHz / 1 m OptoDAS and a 250 Hz / 2 m recording. The defaults are
what the tests and the benchmark use; ``DetectionParams.from_dict`` takes a task config.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class DetectionParams:
    # --- preprocessing (stateful, streaming == batch) ---
    block_s: float = 0.01                 # block-mean pre-decimation period (-> ~100 Hz)
    bin_m: float = 5.0                    # channels averaged into bins of about this width
    integrate_strain: bool = False        # quasi-static band from strain (tried: worse under 1/f noise)
    leak_hz: float = 0.05                 # leaky integrator's corner (drift never accumulates)
    quasi_static_hz: tuple[float, float] = (0.4, 6.0)   # the passing-load band
    quadrature_envelope: bool = True      # |analytic signal|: one hump per axle group, any wavelet
    hilbert_low_hz: float = 0.25          # the Hilbert FIR's lower band edge (length ~ 1/this)
    vib_low_hz: tuple[float, float] = (4.0, 14.0)       # truck-like road vibration
    vib_high_hz: tuple[float, float] = (14.0, 40.0)     # car-like road vibration
    envelope_hz: float = 2.5              # low-pass of the squared signals
    out_fs: float = 25.0                  # envelope image rate (time resolution 40 ms)
    # --- windows ---
    window_s: float = 60.0
    hop_s: float = 20.0
    # --- detection image: weights of the quasi-static, low and high vibration SNR images ---
    # (the 14-40 Hz envelope shows weak cars whose passing load is lost in 1/f noise; tuning
    # seeds: mean F1 0.907 -> 0.925 with (1, 0, 1); (1, 0.5, 1) 0.899, (0, 0, 1) 0.889)
    detect_weights: tuple[float, float, float] = (1.0, 0.0, 1.0)
    # --- directional smoothing / ridge / threshold ---
    nominal_speed_kmh: float = 75.0       # the smoothing kernel follows this slope ...
    smooth_fan: bool = False              # ... or a fan of slopes over speed_range_kmh (tried:
    smooth_smear_s: float = 0.25          # more false lines on the tuning scenes); fan spacing
    smooth_length_m: float = 20.0
    ridge_halfwidth_s: float = 0.3        # non-maximum suppression along time
    threshold_snr: float = 2.2            # ridge pixels above this (noise = 1)
    # --- Hough ---
    speed_range_kmh: tuple[float, float] = (20.0, 160.0)
    hough_theta_deg: float = 0.25
    min_line_m: float = 120.0
    max_gap_m: float = 40.0
    hough_votes_fraction: float = 0.5     # of the bins along min_line_m
    # --- merging and splitting ---
    merge_eps_s: float = 0.35             # DBSCAN eps on the mean time gap of two lines
    min_headway_s: float = 0.55           # two vehicles closer than this are one
    peak_fraction: float = 0.08           # secondary peaks along a line down to this share
    profile_smooth_s: float = 0.2         # moving average of the slant-stack profile
    split_dip: float = 0.8                # two peaks are two vehicles if the profile dips below this share
    truck_part_spacing_m: float = 18.0    # strong peaks closer than this are one truck
    truck_strength: float = 12.0          # "strong": slant-stack SNR of a heavy vehicle
    echo_fraction: float = 0.14           # weaker than this share of a close neighbour: side lobe
    # same-lane detections closer than join_reach_s, at slownesses within join_slowness_share,
    # whose stack never dips below join_dip x the weaker end are one vehicle (0: off)
    join_dip: float = 0.8
    join_reach_s: float = 3.0
    join_slowness_share: float = 0.15
    # a vehicle's stack peak is >= min_contrast x the contrast_quantile of the stack along the
    # same slowness within +-contrast_reach_s (0: off): chance lines through busy images are not
    # (3.5, was 3.0: a slow heavy truck's stack stays above half its peak for +-2-3 s, its own
    # body filled the old reach; tuning seeds 1000-1031: misses 45 -> 43, FP 10 -> 10)
    min_contrast: float = 2.0
    contrast_reach_s: float = 3.5
    contrast_quantile: float = 0.25
    # tracks of the vehicles found, +- this, are masked when a line is judged against its
    # surroundings (successive cancellation, cancel.py; 0: off)
    cancel_halfwidth_s: float = 0.3
    min_coverage: float = 0.4             # share of bins along a line that must light up
    min_stack_snr: float = 0.6
    min_run_m: float = 30.0               # a vehicle lights this much cable without a gap ...
    min_run_fraction: float = 0.3         # ... or this share of a shorter array
    # the same for a line that leaves the window over part of the cable (tuning seeds 1000-1095:
    # 40 / 45 / 50 m -> mean F1 0.919 / 0.918 / 0.916, shuffled-scene ghosts 24 / 19 / 16; 40 m let
    # a 43-m chance line through in the shuffled test scene)
    min_run_partial_m: float = 45.0
    max_pick_scatter_s: float = 0.16      # robust spread of per-bin arrivals about the fitted line
    pick_halfwidth_s: float = 0.35        # arrival-time picking around a line

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "DetectionParams":
        """Build from a (partial) dict, with a clear error for unknown keys."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown DAS detection parameter(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        for f in fields(cls):
            if f.name in values and isinstance(getattr(cls, f.name, None), tuple):
                values[f.name] = tuple(values[f.name])
        return cls(**values)
