"""Streaming wrapper: chunks in, finished vehicle events out, ids kept across windows.

The maths lives in ``preprocess`` (stateful, chunk-invariant) and ``pipeline`` (pure,
per window). This module only decides *which* envelope rows form a window and *when* a
vehicle is final:

* windows of ``window_s`` every ``hop_s``, at fixed positions counted from the first
  sample, so where the chunk boundaries fall never matters (streaming == batch);
* each vehicle is reported by the one window whose central "core" (``hop_s`` wide)
  holds its ``t_center``; the first core reaches back to the start and the last one
  (at ``flush``) to the end, so every instant belongs to exactly one core;
* ids: detections of consecutive windows that agree in direction, time and speed are
  the same vehicle and keep their id.
"""
from __future__ import annotations

import collections
import itertools
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from edge_runtime.das.params import DetectionParams
from edge_runtime.das.pipeline import detect_window
from edge_runtime.das.preprocess import EnvelopeStream
from edge_runtime.das.record import DasRecord
from edge_runtime.das.vehicles import Detection

Classifier = Callable[[dict[str, float]], tuple[str, float]]
LOAD_HISTORY = 40          # vehicles per lane behind the relative-load reference


@dataclass
class _Track:
    vid: int
    det: Detection
    reported: bool = False
    windows: int = 1


class StreamingDetector:
    """Feed ``push(chunk)`` (time x channel arrays), then ``flush()``; both return events."""

    def __init__(self, fs: float, dx: float, n_channels: int, params: DetectionParams | None = None,
                 classifier: Classifier | None = None, t0: float | None = None):
        self.params = params or DetectionParams()
        self.front = EnvelopeStream(fs, dx, n_channels, self.params)
        g = self.front.geometry
        self.window_rows = max(4, int(round(self.params.window_s * g.out_fs)))
        self.hop_rows = max(1, min(self.window_rows, int(round(self.params.hop_s * g.out_fs))))
        self.n_channels, self.dx, self.t0 = n_channels, dx, t0
        # time of envelope row 0: centre of the first block, less the filters' delay
        self.row_time0 = (g.block - 1) / 2.0 / fs - self._filter_delay_s()
        self._rows = np.zeros((0, 3, g.n_bins), dtype=np.float32)
        self._rows_offset = 0          # global index of self._rows[0]
        self._total_rows = 0
        self._next_window = 0
        self._tracks: list[_Track] = []
        self._ids = itertools.count(1)
        if classifier is None:
            from edge_runtime.das.classify import load_classifier
            classifier = load_classifier()
        self.classifier = classifier
        self.windows_done = 0
        self.final_until_s = -np.inf    # every vehicle passing before this has been reported
        # quasi-static load of recently reported vehicles, per direction (lane): the reference
        # of the relative-load feature ``qs_rel``
        self._loads: dict[int, collections.deque] = {d: collections.deque(maxlen=LOAD_HISTORY) for d in (1, -1)}

    @classmethod
    def for_record(cls, record: DasRecord, **kwargs: Any) -> "StreamingDetector":
        return cls(record.fs, record.dx, record.n_channels, t0=record.t0, **kwargs)

    def _filter_delay_s(self) -> float:
        """Group delay of the band-pass + envelope filters near 1.5 Hz (a constant lag)."""
        from scipy import signal
        g = self.front.geometry
        fs1 = g.fs_in / g.block
        delay = 0.0
        filters = [signal.sos2tf(sos) for sos in (self.front.band_sos[0], self.front.env_sos)]
        if self.front.leak is not None:
            filters.append(([1.0 - self.front.leak], [1.0, -self.front.leak]))
        for b, a in filters:
            _, gd = signal.group_delay((b, a), w=[1.5], fs=fs1)
            delay += float(gd[0]) / fs1
        if self.front.quadrature is not None:
            delay += self.front.quadrature.delay / fs1
        return delay

    # ------------------------------------------------------------------ feeding
    def push(self, chunk: np.ndarray) -> list[dict[str, Any]]:
        rows = self.front.push(np.asarray(chunk, dtype=np.float32))
        self.last_rows = rows          # envelope rows (time × 3 × channel bins), e.g. for a waterfall
        self._rows = np.concatenate([self._rows, rows]) if len(self._rows) else rows
        self._total_rows += len(rows)
        events: list[dict[str, Any]] = []
        while self._next_window * self.hop_rows + self.window_rows <= self._total_rows:
            events += self._run_window(self._next_window, last=False)
            self._next_window += 1
        return events

    def flush(self) -> list[dict[str, Any]]:
        """Process the tail (a shorter last window whose core reaches to the end)."""
        start = self._next_window * self.hop_rows
        if self._next_window > 0 and start + (self.window_rows - self.hop_rows) // 2 >= self._total_rows:
            self.final_until_s = np.inf
            return []    # the previous window's core already reaches past the end
        if self._total_rows - start < 4:
            self.final_until_s = np.inf
            return []
        return self._run_window(self._next_window, last=True)

    def run(self, chunks: Iterable[np.ndarray]) -> list[dict[str, Any]]:
        events = [e for chunk in chunks for e in self.push(chunk)]
        return events + self.flush()

    # ------------------------------------------------------------------ windows
    def _run_window(self, k: int, last: bool) -> list[dict[str, Any]]:
        g = self.front.geometry
        start = k * self.hop_rows
        stop = min(start + self.window_rows, self._total_rows)
        local = self._rows[start - self._rows_offset: stop - self._rows_offset]
        t_start = self.row_time0 + start / g.out_fs
        detections = detect_window(local, g, t_start, self.params)
        self._relative_load(detections)
        half_margin = (self.window_rows - self.hop_rows) / 2.0 / g.out_fs
        core_lo = -np.inf if k == 0 else t_start + half_margin
        core_hi = np.inf if last else t_start + half_margin + self.hop_rows / g.out_fs
        events = []
        for det in detections:
            track = self._associate(det)
            if core_lo <= det.t_center < core_hi and not track.reported:
                track.reported = True
                events.append(self._event(track))
                if "qs_snr" in det.features:
                    self._loads[det.direction].append(det.features["qs_snr"])
        self.final_until_s = core_hi
        self._forget(t_start)
        drop = (k + 1) * self.hop_rows - self._rows_offset
        if drop > 0 and not last:
            self._rows = self._rows[drop:]
            self._rows_offset += drop
        self.windows_done += 1
        return events

    def _relative_load(self, detections: list[Detection]) -> None:
        """``qs_rel``: a vehicle's load feature less the median of its lane's recent vehicles
        (and of this window's). Site gain, cable depth and the lane's distance from the
        cable scale every vehicle of a lane alike; a truck is heavier than the lane's
        typical (mostly car) vehicle wherever it is."""
        for direction in (1, -1):
            own = [d for d in detections if d.direction == direction and "qs_snr" in d.features]
            if not own:
                continue
            reference = float(np.median(list(self._loads[direction]) + [d.features["qs_snr"] for d in own]))
            for d in own:
                d.features["qs_rel"] = d.features["qs_snr"] - reference

    def _associate(self, det: Detection) -> _Track:
        """The track this detection continues, or a new one (new id)."""
        tol = 0.45 * self.params.min_headway_s
        for track in self._tracks:
            old = track.det
            if (old.direction == det.direction and abs(old.t_center - det.t_center) < tol
                    and abs(old.slowness - det.slowness) < 0.1 * abs(old.slowness)):
                track.det = det
                track.windows += 1
                return track
        track = _Track(next(self._ids), det)
        self._tracks.append(track)
        return track

    def _forget(self, t_start: float) -> None:
        self._tracks = [t for t in self._tracks if t.det.t_center > t_start - self.params.window_s]

    def _event(self, track: _Track) -> dict[str, Any]:
        det = track.det
        x_mid = 0.5 * (self.n_channels - 1) * self.dx
        x_end = (self.n_channels - 1) * self.dx
        t_at_0 = det.t_center - det.slowness * x_mid
        t_at_end = det.t_center + det.slowness * (x_end - x_mid)
        cls, confidence = self.classifier(det.features)
        event = {"id": track.vid, "t_center_s": round(det.t_center, 3),
                 "speed_kmh": round(det.speed_kmh, 2), "direction": det.direction,
                 "class": cls, "confidence": round(confidence, 3),
                 "t_entry_s": round(min(t_at_0, t_at_end), 3), "t_exit_s": round(max(t_at_0, t_at_end), 3),
                 "strength": round(det.strength, 3), "coverage": round(det.coverage, 3),
                 "windows_seen": track.windows,
                 "features": {k: round(v, 4) for k, v in det.features.items()}}
        if self.t0 is not None:
            event["t_center_utc"] = self.t0 + det.t_center
        return event


def detect_record(record: DasRecord, params: DetectionParams | None = None,
                  classifier: Classifier | None = None) -> list[dict[str, Any]]:
    """Batch: the whole record as one chunk through the same streaming machinery."""
    detector = StreamingDetector.for_record(record, params=params, classifier=classifier)
    return detector.push(record.data) + detector.flush()
