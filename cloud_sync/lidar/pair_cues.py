"""Is segment ``after`` the same person as segment ``before``, seen again on another sensor?

The cues a colourless, beam-pattern-agnostic link can use, each a number that is ~0 for the
same person and grows for a different one: transit likelihood (``transit.py``), embedding
distance (discounted for segments too short to average their embedding over), height z²,
walking-speed change and sideways offset against the walking direction (people keep their
pace and, mostly, their line across a short blind gap: gait from the track, not the beams),
and the vertical profile (radial spread and point share per height band, both normalised per
detection, so a 16-beam and a 128-beam view of one body compare). ``PairModel`` turns the
cues into a link cost: the negative log-odds of a logistic model fitted on the evaluation
matrix's tuning seeds (``benchmarks/lidar_fit_linker.py``), bundled as ``pair_model.json``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_runtime.lidar.segment import TrackSegment

CUES = ("transit_nll", "embedding", "height_z2", "speed_change2", "sideways_offset2", "band_spread", "band_fraction")
EMBEDDING_FULL_FRAMES = 20      # an embedding averaged over fewer frames counts proportionally less
SIDEWAYS_CAP_M = 4.0
DEFAULT_MODEL = Path(__file__).with_name("pair_model.json")


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.linalg.norm(v))
    return v / n if n > 0.2 else None


def pair_cues(before: TrackSegment, after: TrackSegment, transit_nll: float, base_height_sigma_m: float) -> np.ndarray:
    """The cue vector (order of ``CUES``) of one exit → entry pair."""
    fa, fb = before.features, after.features
    frames = min(len(before.times), len(after.times))
    embedding = 0.5                              # no embedding on a side: an uninformative middle
    if before.embedding is not None and after.embedding is not None:
        embedding = (1.0 - float(before.embedding @ after.embedding)) * min(1.0, frames / EMBEDDING_FULL_FRAMES)
    variance = base_height_sigma_m ** 2 + (fa.get("height_sigma_m") or 0.0) ** 2 + (fb.get("height_sigma_m") or 0.0) ** 2
    height_z2 = 0.5 * (fa.get("height", 0.0) - fb.get("height", 0.0)) ** 2 / variance
    v_out, v_in = before.velocity(end=True), after.velocity(end=False)
    s_out, s_in = float(np.linalg.norm(v_out)), float(np.linalg.norm(v_in))
    speed_change2 = 100.0 * ((s_out - s_in) / max(s_out + s_in, 0.2)) ** 2
    heading = _unit(v_out + v_in)
    sideways = 0.0
    if heading is not None:
        step = after.xy[0] - before.xy[-1]
        sideways = min(abs(float(step[0] * heading[1] - step[1] * heading[0])), SIDEWAYS_CAP_M)
    return np.array([transit_nll, embedding, height_z2, speed_change2, sideways ** 2,
                     _l1(fa, fb, "band_spread"), _l1(fa, fb, "band_fraction")])


def _l1(fa: dict, fb: dict, key: str) -> float:
    a, b = fa.get(key), fb.get(key)
    if a is None or b is None or len(a) != len(b):
        return 0.0
    return float(np.abs(np.asarray(a, float) - np.asarray(b, float)).sum())


@dataclass(frozen=True)
class PairModel:
    """Link cost = −(bias + weights · cues): the negative log-odds that the pair is one person."""

    weights: tuple[float, ...]
    bias: float
    max_cost: float = 3.0          # pairs dearer than this are never linked (chosen on the tuning cells)
    source: str = ""

    def cost(self, cues: np.ndarray) -> float:
        return -(self.bias + float(np.dot(self.weights, cues)))

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL) -> "PairModel":
        document = json.loads(Path(path).read_text())
        if tuple(document.get("cues", ())) != CUES:
            raise ValueError(f"pair model {path}: cues {document.get('cues')} differ from {list(CUES)}; "
                             "refit it with 'python benchmarks/lidar_fit_linker.py'")
        return cls(tuple(float(w) for w in document["weights"]), float(document["bias"]),
                   float(document.get("max_cost", 3.0)), str(document.get("source", "")))

    def to_json(self, **extra) -> str:
        return json.dumps({"cues": list(CUES), "weights": [round(w, 5) for w in self.weights],
                           "bias": round(self.bias, 5), "max_cost": self.max_cost, "source": self.source,
                           **extra}, indent=1)
