"""Evaluation against simulator ground truth with py-motmetrics (MOTA, IDF1, ID switches) and
link precision/recall/F1 for the cross-sensor re-identification.

Pitfalls handled: motmetrics' Euclidean threshold ``max_d2`` is *squared*; release 1.4.0
fails on string ids with pandas 3, so every id is an integer; it has no HOTA.
People that a sensor sees with only a handful of points are "don't care" (as KITTI's
DontCare): neither they nor hypotheses within the gate of them count.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

MIN_VISIBLE_POINTS = 20   # a person with fewer labelled points is "don't care"


@dataclass
class FrameTruth:
    """One frame for one evaluation: people to find, people to ignore, hypotheses."""

    people: dict[int, tuple[float, float]] = field(default_factory=dict)
    ignored: list[tuple[float, float]] = field(default_factory=list)
    hypotheses: dict[int, tuple[float, float]] = field(default_factory=dict)


def split_visibility(labels: np.ndarray, positions: dict[int, tuple[float, float]]
                     ) -> tuple[dict[int, tuple[float, float]], list[tuple[float, float]]]:
    """From one sensor frame's point labels: (well visible people, barely visible people)."""
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    visible, ignored = {}, []
    for pid, count in zip(ids.tolist(), counts.tolist()):
        if pid in positions:
            if count >= MIN_VISIBLE_POINTS:
                visible[pid] = positions[pid]
            else:
                ignored.append(positions[pid])
    return visible, ignored


def mot_metrics(frames: list[FrameTruth], max_distance_m: float = 1.0) -> dict:
    import motmetrics as mm

    accumulator = mm.MOTAccumulator(auto_id=True)
    for frame in frames:
        hypotheses = dict(frame.hypotheses)
        if frame.ignored and hypotheses:
            ignored = np.asarray(frame.ignored)
            hypotheses = {h: xy for h, xy in hypotheses.items()
                          if np.min(np.linalg.norm(ignored - np.asarray(xy), axis=1)) > max_distance_m}
        gt_ids, hyp_ids = list(frame.people), list(hypotheses)
        distances = mm.distances.norm2squared_matrix(
            np.array([frame.people[i] for i in gt_ids]).reshape(-1, 2),
            np.array([hypotheses[h] for h in hyp_ids]).reshape(-1, 2), max_d2=max_distance_m ** 2)
        accumulator.update([int(i) for i in gt_ids], [int(h) for h in hyp_ids], distances)
    summary = mm.metrics.create().compute(
        accumulator, metrics=["mota", "idf1", "num_switches", "precision", "recall", "num_objects"], name="x")
    row = summary.loc["x"]
    return {"mota": round(float(row["mota"]), 4), "idf1": round(float(row["idf1"]), 4),
            "id_switches": int(row["num_switches"]), "precision": round(float(row["precision"]), 4),
            "recall": round(float(row["recall"]), 4), "gt_objects": int(row["num_objects"])}


def assign_truth(times: np.ndarray, xy: np.ndarray, truth_at: dict[float, dict[int, tuple[float, float]]],
                 max_distance_m: float = 1.0) -> int | None:
    """The person a track followed most of the time (majority of nearest-within-gate votes)."""
    votes: Counter = Counter()
    for t, position in zip(times, xy):
        people = truth_at.get(round(float(t), 3), {})
        if not people:
            continue
        ids = list(people)
        d = np.linalg.norm(np.array([people[i] for i in ids]) - position, axis=1)
        if d.min() <= max_distance_m:
            votes[ids[int(np.argmin(d))]] += 1
    return votes.most_common(1)[0][0] if votes else None


def true_links(segments) -> set[tuple]:
    """Consecutive segments of the same person that lie on different sensors."""
    by_person = defaultdict(list)
    for segment in segments:
        if segment.truth_id is not None:
            by_person[segment.truth_id].append(segment)
    links = set()
    for chain in by_person.values():
        chain.sort(key=lambda s: s.t_start)
        for before, after in zip(chain, chain[1:]):
            if before.sensor_id != after.sensor_id:
                links.add((before.key, after.key))
    return links


def link_scores(predicted: set[tuple], segments) -> dict:
    """Precision, recall and F1 of cross-sensor links against the true chains."""
    sensor_of = {s.key: s.sensor_id for s in segments}
    predicted = {(a, b) for a, b in predicted if sensor_of.get(a) != sensor_of.get(b)}
    truth = true_links(segments)
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "true_links": len(truth), "predicted_links": len(predicted)}
