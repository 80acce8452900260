"""The per-sensor tracker: predict → associate → update → birth/death (AB3DMOT's loop).

Knows nothing of files, MQTT or plots. Each detection may carry a payload (its features,
its embedding); the track keeps the payloads of the frames it was seen in, and a confirmed
track that dies is handed back as a finished track for the re-identification layer.

A ``blind`` callable (sensor-frame positions → bool, from ``visibility``) marks where the
sensor cannot see a person (the cone under a mast): a confirmed track predicted there coasts
on its velocity for up to ``blind_max_coast_s`` instead of dying after ``max_misses``, so a
person walking under the sensor keeps one track. A coasting track's gate widens with time.
Once its prediction has left the cone it coasts ``blind_exit_coast_s`` more: the detector
picks up the head-only returns at the cone's edge a few frames after the modelled cone ends,
and a track ended there came back with a new id on the far side.

Two people closer than a cluster cell apart give one detection; the track that lost its own
is then *merged* (its prediction within ``merge_radius_m`` of a detection) and coasts like a
hidden one, while the track holding the merged detection updates with a looser measurement
(``merged_measurement_noise_m``) so neither velocity is dragged to the midpoint — when the
two part, each prediction still points its own way. Without this the coasting walker's track
died after two misses and came back with a new id, often the other walker's.

An ``outside`` callable (sensor-frame positions → bool) marks where the sensor cannot see at
all (at the range edge or beyond): a track predicted there has walked out, so it is never
treated as hidden — coasting there let it catch the next person entering at the edge, an
identity swap that also spoils the cross-sensor links. For the same reason a track predicted
there gates tight (``edge_gate_m``): a leaving walker's detection, cut by the range, and the
next entrant beside the exit point are not taken for it.

A confirmed track lost with no detection within ``lone_radius_m`` of its prediction, inside
the range less the exit margin, may miss ``lone_max_misses`` frames instead of ``max_misses``:
with nobody near there is nobody for it to catch, and a person the detector drops for a
third frame came back with a new id.

With ``heights`` (one per detection) association adds ``height_weight`` per metre of
difference from the track's smoothed height to the distance: two walkers side by side are
told apart by their heights where the positions alone are a coin toss.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_runtime.lidar.config import TrackerConfig
from edge_runtime.lidar.kalman import ConstantVelocityKalman
from edge_runtime.lidar.matching import associate


@dataclass
class Track:
    track_id: int
    filter: ConstantVelocityKalman
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    times: list[float] = field(default_factory=list)
    positions: list[np.ndarray] = field(default_factory=list)
    payloads: list[Any] = field(default_factory=list)
    height: float | None = None          # smoothed height of its detections (when given)
    exit_misses: float = 0               # misses allowed after its prediction left the blind cone

    def record(self, t: float, xy: np.ndarray, payload: Any) -> None:
        self.times.append(t)
        self.positions.append(np.asarray(xy, dtype=float))
        self.payloads.append(payload)


class MultiObjectTracker:
    def __init__(self, config: TrackerConfig = TrackerConfig(), blind=None, outside=None):
        self.config = config
        self.blind = blind
        self.outside = outside
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)
        self._last_t: float | None = None

    def step(self, t: float, positions: np.ndarray, payloads: list[Any] | None = None,
             heights: np.ndarray | None = None) -> tuple[list[Track], list[Track]]:
        """One frame: returns ``(confirmed tracks seen now, confirmed tracks that just ended)``.
        ``heights`` (one per detection) let association prefer the track of the same height."""
        positions = np.asarray(positions, dtype=float).reshape(-1, 2)
        payloads = payloads if payloads is not None else [None] * len(positions)
        dt = 0.0 if self._last_t is None else t - self._last_t
        if dt < 0:
            raise ValueError(f"frames must arrive in time order: t={t} after {self._last_t}")
        self._last_t = t
        predicted = np.array([track.filter.predict(dt) for track in self.tracks]).reshape(-1, 2)
        c = self.config
        coasting = np.array([track.misses for track in self.tracks], dtype=float) * dt
        gates = np.minimum(c.gate_m + c.coast_gate_growth_m_per_s * coasting, max(c.max_gate_m, c.gate_m))
        if c.edge_gate_m > 0 and self.outside is not None and len(predicted):
            gates = np.where(self.outside(predicted), np.minimum(gates, c.edge_gate_m), gates)
        extra = None
        if heights is not None and c.height_weight > 0 and len(self.tracks) and len(positions):
            known = np.array([np.nan if tr.height is None else tr.height for tr in self.tracks])
            extra = c.height_weight * np.nan_to_num(np.abs(known[:, None] - np.asarray(heights)[None, :]))
        pairs, lost, new = associate(predicted, positions, gates, extra)
        in_blind = (self.blind(predicted[lost]) if self.blind is not None and len(lost)
                    else np.zeros(len(lost), dtype=bool))
        blind_misses = c.blind_max_coast_s / dt if dt > 0 else 0
        exit_grace = c.blind_exit_coast_s / dt if dt > 0 else 0
        occluded = _in_shadow(predicted[lost], positions, c.occluder_half_width_m)
        merged = set()
        if c.merge_radius_m > 0 and len(lost) and len(positions):
            near = _near(predicted[lost], positions, c.merge_radius_m)
            occluded |= near.any(axis=1)
            confirmed = np.array([self.tracks[ti].confirmed for ti in lost], dtype=bool)
            merged = set(np.flatnonzero(near[confirmed].any(axis=0)).tolist())
        if self.outside is not None and len(lost):
            occluded &= ~self.outside(predicted[lost])
        occluded_misses = c.occluded_max_coast_s / dt if dt > 0 else 0
        for ti, di in pairs:
            track = self.tracks[ti]
            track.filter.update(positions[di], c.merged_measurement_noise_m if di in merged else None)
            track.hits += 1
            track.misses = 0
            track.exit_misses = 0
            track.confirmed |= track.hits >= self.config.min_hits
            track.record(t, track.filter.position.copy(), payloads[di])
            if heights is not None:
                h = float(heights[di])
                track.height = h if track.height is None else track.height + c.height_smoothing * (h - track.height)
        ended = []
        lone = np.zeros(len(lost), dtype=bool)
        if c.lone_max_misses > c.max_misses and len(lost):
            lone = ~_near(predicted[lost], positions, c.lone_radius_m).any(axis=1)
            if self.outside is not None:
                lone &= ~self.outside(predicted[lost])
        for ti, blind, hidden, alone in zip(lost, in_blind, occluded, lone):
            track = self.tracks[ti]
            track.misses += 1
            if blind:
                track.exit_misses = track.misses + exit_grace
            allowed = max(c.lone_max_misses if alone else c.max_misses, blind_misses if blind else track.exit_misses,
                          occluded_misses if hidden else 0)
            if not track.confirmed or track.misses > allowed:
                ended.append(track)
        for di in new:
            track = Track(next(self._ids), ConstantVelocityKalman(positions[di], self.config.process_noise,
                                                                  self.config.measurement_noise_m))
            track.record(t, positions[di], payloads[di])
            track.height = None if heights is None else float(heights[di])
            self.tracks.append(track)
        ended_ids = {id(track) for track in ended}
        self.tracks = [track for track in self.tracks if id(track) not in ended_ids]
        seen = [track for track in self.tracks if track.confirmed and track.misses == 0]
        return seen, [track for track in ended if track.confirmed]

    def flush(self) -> list[Track]:
        """End every confirmed track (end of a recording)."""
        finished = [track for track in self.tracks if track.confirmed]
        self.tracks = []
        return finished


def _in_shadow(points: np.ndarray, occluders: np.ndarray, half_width_m: float) -> np.ndarray:
    """Which ``points`` lie behind one of ``occluders`` as seen from the origin (the sensor)."""
    if len(points) == 0 or len(occluders) == 0:
        return np.zeros(len(points), dtype=bool)
    r_p, r_o = np.hypot(*points.T), np.hypot(*occluders.T)
    a_p, a_o = np.arctan2(points[:, 1], points[:, 0]), np.arctan2(occluders[:, 1], occluders[:, 0])
    gap = np.abs((a_p[:, None] - a_o[None, :] + np.pi) % (2 * np.pi) - np.pi)
    width = np.arctan2(half_width_m, np.maximum(r_o, 0.1))[None, :]
    return ((gap < width) & (r_o[None, :] < r_p[:, None] - 0.3)).any(axis=1)


def _near(points: np.ndarray, detections: np.ndarray, radius_m: float) -> np.ndarray:
    """(points × detections) within ``radius_m``: two people walking this close form one
    cluster, so the track that lost its own detection is hidden in the other's."""
    d = np.hypot(points[:, None, 0] - detections[None, :, 0], points[:, None, 1] - detections[None, :, 1])
    return d <= radius_m
