"""Global linking: per-sensor track segments → global trajectories with stable ids.

Every finished segment is both an *entry* (it may continue someone seen earlier) and an
*exit* (someone later may continue it). Periodically, all undecided entries are matched to
open exits by the Hungarian algorithm on a combined cost: transit likelihood (learned per
zone pair), embedding distance and height difference — or, across sensors and when the bundled
pair model is present, that model's negative log-odds over every cue in ``pair_cues`` (speed
change and sideways offset too). Entries older than
``decision_delay_s`` are then committed: a linked entry inherits its exit's global id, an
unlinked one gets a new id — ids never change afterwards. Confident links teach the transit
model. ``use_appearance=False`` gives the time-only ablation.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from cloud_sync.lidar.pair_cues import DEFAULT_MODEL, PairModel, pair_cues
from cloud_sync.lidar.transit import TransitModel, heading_name
from edge_runtime.lidar.segment import TrackSegment


@dataclass
class LinkerConfig:
    max_gap_s: float = 30.0
    decision_delay_s: float = 20.0
    max_cost: float = 3.0
    # Tuned on the matrix's tuning seeds (benchmarks/lidar_matrix.py --split tuning): the bundled
    # embedding, trained on 32-beam scenes, deserves less weight across beam patterns (8 → 3);
    # heights carry their own ring-spacing sigma, so the base sigma is the body's own (0.05).
    embedding_weight: float = 3.0      # cost per unit of cosine distance
    height_sigma_m: float = 0.05
    learn_margin: float = 3.0          # a link teaches the transit model when the runner-up costs this much more
    use_appearance: bool = True
    use_pair_model: bool = True        # the fitted cue model across sensors (when bundled)
    # Across sensors, a late arrival's transit cost is capped here (people pause in the blind
    # zone); chosen on the tuning cells: 2.0 (1.0 and 0.5 made wrong links, 3+ never binds).
    # Same-sensor re-entries keep the full Gaussian (capping them cost global IDF1).
    late_transit_cap_nll: float | None = 2.0
    # Walked distance through the gap = transit time x the faster side's end speed: a track
    # that slows or stands at its end (range edge, a pause before the gap) made true links look
    # impossibly early under the mean of both ends. "mean" is the rule before (tuning cells).
    transit_speed: str = "faster"
    min_frames: int = 3                # shorter segments are not linked (the tracker confirms after 3
                                       # hits; 8 left every short edge fragment unlinked)

    def __post_init__(self) -> None:
        if self.transit_speed not in ("faster", "mean"):
            raise ValueError(f"transit_speed {self.transit_speed!r}: 'faster' or 'mean'")


def bundled_pair_model() -> PairModel | None:
    return PairModel.load(DEFAULT_MODEL) if DEFAULT_MODEL.is_file() else None


@dataclass
class GlobalLinker:
    config: LinkerConfig = field(default_factory=LinkerConfig)
    transit: TransitModel = field(default_factory=TransitModel)
    pair_model: PairModel | None = field(default_factory=bundled_pair_model)
    segments: dict[tuple, TrackSegment] = field(default_factory=dict)
    global_id: dict[tuple, int] = field(default_factory=dict)
    links: set[tuple] = field(default_factory=set)          # (exit key, entry key)
    _pending: list[tuple] = field(default_factory=list)
    _open_exits: set[tuple] = field(default_factory=set)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def add(self, segment: TrackSegment) -> None:
        if segment.key in self.segments:
            raise ValueError(f"segment {segment.key} was already added")
        self.segments[segment.key] = segment
        if len(segment.times) < self.config.min_frames:
            self.global_id[segment.key] = next(self._ids)   # too short to describe: kept, never linked
            return
        self._pending.append(segment.key)

    def advance(self, now: float) -> list[tuple]:
        """Decide entries that started more than ``decision_delay_s`` before ``now``; new links."""
        horizon = now - self.config.decision_delay_s
        due = sorted((k for k in self._pending if self.segments[k].t_start <= horizon),
                     key=lambda k: self.segments[k].t_start)
        if not due:
            return []
        # Exits: every segment not yet continued — decided ones and undecided ones alike (an
        # exit always starts before its entry, so it is decided first in the loop below).
        # All undecided entries compete for them, but only due ones are committed now.
        entries = list(self._pending)
        oldest = min(self.segments[k].t_start for k in entries) - self.config.max_gap_s
        exits = [k for k in self._open_exits | set(self._pending) if self.segments[k].t_end >= oldest]
        chosen: dict[tuple, tuple[tuple, float]] = {}
        if exits and entries:
            cost = self._cost_matrix(exits, entries)
            # Any pair above max_cost costs the same as "no link", so the assignment never
            # trades a good link for two over-threshold ones that are then thrown away.
            capped = np.where(cost <= self.config.max_cost, cost, self.config.max_cost + 1.0)
            rows, cols = linear_sum_assignment(capped)
            due_set = set(due)
            for r, c in zip(rows, cols):
                if cost[r, c] <= self.config.max_cost and entries[c] in due_set:
                    chosen[entries[c]] = (exits[r], self._is_unambiguous(cost, r, c))
        made = []
        for entry in due:
            if entry in chosen:
                exit_key, unambiguous = chosen[entry]
                self._commit(exit_key, entry, unambiguous)
                made.append((exit_key, entry))
            else:
                self.global_id[entry] = next(self._ids)
            self._open_exits.add(entry)
        done = set(due)
        self._pending = [k for k in self._pending if k not in done]
        return made

    def finish(self) -> None:
        self.advance(float("inf"))

    def _is_unambiguous(self, cost: np.ndarray, r: int, c: int) -> bool:
        """Only links that clearly beat every rival for both ends may teach the transit model:
        learning from a wrong link would make the next wrong link look right."""
        rivals = np.concatenate([np.delete(cost[r], c), np.delete(cost[:, c], r)])
        return bool(rivals.size == 0 or rivals.min() - cost[r, c] >= self.config.learn_margin)

    def _commit(self, exit_key: tuple, entry_key: tuple, teach: bool) -> None:
        self.global_id[entry_key] = self.global_id[exit_key]
        self.links.add((exit_key, entry_key))
        self._open_exits.discard(exit_key)
        if teach:
            before, after = self.segments[exit_key], self.segments[entry_key]
            self.transit.learn(self._zone_pair(before, after), after.t_start - before.t_end,
                               self._speed(before, after), float(np.linalg.norm(after.xy[0] - before.xy[-1])))

    @staticmethod
    def _zone_pair(before: TrackSegment, after: TrackSegment) -> tuple[str, str]:
        return (f"{before.sensor_id}>{heading_name(before.velocity(end=True))}",
                f"{after.sensor_id}<{heading_name(after.velocity(end=False))}")

    def _speed(self, before: TrackSegment, after: TrackSegment) -> float:
        out = float(np.linalg.norm(before.velocity(end=True)))
        into = float(np.linalg.norm(after.velocity(end=False)))
        return max(out, into) if self.config.transit_speed == "faster" else 0.5 * (out + into)

    def pair_cost(self, before: TrackSegment, after: TrackSegment) -> float:
        gap = after.t_start - before.t_end
        if gap <= 0 or gap > self.config.max_gap_s:
            return np.inf
        straight = float(np.linalg.norm(after.xy[0] - before.xy[-1]))
        late_cap = self.config.late_transit_cap_nll if before.sensor_id != after.sensor_id else None
        cost = self.transit.negative_log_likelihood(self._zone_pair(before, after), gap,
                                                    self._speed(before, after), straight, late_cap)
        if not self.config.use_appearance:
            return cost
        if self.config.use_pair_model and self.pair_model is not None and before.sensor_id != after.sensor_id:
            # Shifted so that the model's own threshold lands on ``max_cost``: one threshold
            # for the whole matrix (same-sensor pairs keep the hand-set cost below).
            cues = pair_cues(before, after, cost, self.config.height_sigma_m)
            return self.pair_model.cost(cues) - self.pair_model.max_cost + self.config.max_cost
        if before.embedding is not None and after.embedding is not None:
            cost += self.config.embedding_weight * (1.0 - float(before.embedding @ after.embedding))
        dh = before.features.get("height", 0.0) - after.features.get("height", 0.0)
        # Each side's own uncertainty (ring spacing of its sensor) adds to the base sigma,
        # so a 16-beam segment is not held to a 128-beam sensor's precision.
        variance = (self.config.height_sigma_m ** 2 + (before.features.get("height_sigma_m") or 0.0) ** 2
                    + (after.features.get("height_sigma_m") or 0.0) ** 2)
        cost += 0.5 * dh ** 2 / variance
        return cost

    def _cost_matrix(self, exits: list[tuple], entries: list[tuple]) -> np.ndarray:
        cost = np.full((len(exits), len(entries)), np.inf)
        for i, e in enumerate(exits):
            for j, n in enumerate(entries):
                cost[i, j] = self.pair_cost(self.segments[e], self.segments[n])
        return cost

    def trajectories(self) -> dict[int, list[TrackSegment]]:
        """Global id → its segments in time order (decided segments only)."""
        out: dict[int, list[TrackSegment]] = {}
        for key, gid in self.global_id.items():
            out.setdefault(gid, []).append(self.segments[key])
        return {gid: sorted(s, key=lambda s: s.t_start) for gid, s in sorted(out.items())}

    def status(self) -> dict:
        return {"segments": len(self.segments), "links": len(self.links),
                "global_ids": len(set(self.global_id.values())), "transit": self.transit.to_dict()}
