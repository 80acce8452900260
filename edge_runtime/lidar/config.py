"""Every parameter of the per-sensor pipeline in one place, so the deployed pipeline reads like
the method section: ground → background → ground-plane clustering → person filter → tracking.

The defaults are AB3DMOT's pedestrian setting for the tracker (1 m gate, born after 3 hits,
dies after 2 misses) and adult-person bounds for the filter.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class GroundConfig:
    distance_m: float = 0.15         # a point this close to the plane is ground
    iterations: int = 200            # RANSAC hypotheses, drawn all at once
    max_tilt_deg: float = 20.0       # the floor is roughly level in the sensor frame
    sample_points: int = 4000        # inliers are counted on this many points
    fit_points: int = 20000          # the plane is fitted on a random subset of this size
    seed_quantile: float = 0.2       # hypotheses are drawn from the lowest 20 % of the points
    seed: int = 0                    # fixed: the same frame always gives the same plane


@dataclass
class ClusterConfig:
    cell_m: float = 0.2              # ground-plane grid; 8-connected occupied cells form a cluster
    min_height_m: float = 0.1        # points below this (above ground) are left out of clustering
    max_height_m: float = 2.6        # ceilings, signs and canopies above this are left out


@dataclass
class PersonConfig:
    min_points: int = 12
    min_height_m: float = 1.0
    max_height_m: float = 2.2
    max_extent_m: float = 1.3        # longest footprint side
    min_extent_m: float = 0.1        # a head seen alone (near the mast) is ~0.13 m across
    max_bottom_m: float = 1.1        # legs reach the ground; near a ceiling mast only the upper body shows
    split_merged: bool = True        # cut clusters of people walking close together (split.py)
    visible_bottom_margin_m: float = 0.35   # where beams pass above the legs, the bottom may sit
                                            # this far above the lowest visible height instead


@dataclass
class BackgroundConfig:
    voxel_m: float = 0.2
    learn_frames: int = 20           # frames learned before detection starts
    occupied_fraction: float = 0.25  # a voxel seen this often is background (people move on)
    update_rate: float = 0.002       # slow update: a still person fades into background after ~15 s
    max_range_m: float = 40.0


@dataclass
class TrackerConfig:
    gate_m: float = 1.0
    min_hits: int = 3
    max_misses: int = 2
    process_noise: float = 1.0       # acceleration spectral density (m/s²)²·s
    measurement_noise_m: float = 0.1
    blind_max_coast_s: float = 14.0  # a track predicted inside the blind cone coasts this long (a 3.5 m
                                     # mast's cone is ~4.7 m in radius for ±22.5° sensors: ~13 s to cross
                                     # at 0.7 m/s; 7 s split the slow walkers, 14 s ≡ no limit on tuning)
    blind_exit_coast_s: float = 0.5  # ... and this long more once its prediction has left the cone (the
                                     # detector finds head-only returns at the cone edge a little later)
    blind_min_beams: int = 2         # fewer beams on a 1.55 m person than this is "blind"
    occluded_max_coast_s: float = 1.5   # a track hidden behind a nearer detection coasts this long
    occluder_half_width_m: float = 0.4  # a detection shadows the sensor's rays this far either side
    coast_gate_growth_m_per_s: float = 0.5   # the gate widens while a track coasts ...
    max_gate_m: float = 2.0                  # ... up to this
    # Identity through merges and exits (merge, exit rule: chosen on 22 tuning cells; blind coast, edge
    # gate, heights: on all 60 tuning cells; benchmarks/lidar_tracker_replay.py):
    merge_radius_m: float = 0.6      # a lost track this near a detection is merged into it: it coasts
    merged_measurement_noise_m: float = 0.3  # ... and the track holding that detection trusts it less
    exit_margin_m: float = 0.5       # lost this near the range edge or beyond: walked out, no coasting
    edge_gate_m: float = 0.3         # a track predicted within the exit margin gates this tight: a leaving
                                     # walker's cut-off cluster and the next entrant are not it (0: off)
    height_weight: float = 3.0       # association cost per metre of height difference (0: distance only)
    height_smoothing: float = 0.2    # a track's height follows its detections' heights at this rate
    lone_max_misses: int = 3         # a track lost with no detection within lone_radius_m, away from the
    lone_radius_m: float = 3.0       # range edge, misses this many frames (<= max_misses: off; tuning, 60 cells)


@dataclass
class PipelineConfig:
    ground: GroundConfig = field(default_factory=GroundConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    person: PersonConfig = field(default_factory=PersonConfig)
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "PipelineConfig":
        """Build from a (partial) nested dict, rejecting unknown keys with their path."""
        config = cls()
        for section, values in (data or {}).items():
            if not hasattr(config, section):
                raise ValueError(f"unknown LiDAR config section {section!r}; "
                                 f"known: {', '.join(f.name for f in fields(cls))}")
            part = getattr(config, section)
            for key, value in values.items():
                if not hasattr(part, key):
                    raise ValueError(f"unknown LiDAR config key {section}.{key}")
                setattr(part, key, type(getattr(part, key))(value))
        return config
