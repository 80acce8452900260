"""Agent task ``das``: stream a folder (or a simulation) and return traffic records.

Config (``tasks: [{kind: das, name: traffic, interval_s: 1.0, params: {...}}]``)::

    source: folder | simulate          (default folder)
    folder: /data/das/incoming         (for source=folder; files *.h5/*.hdf5/*.npz/*.npy)
    pattern: "*.h5"                    (optional)
    simulate: {seed: 0, n_channels: 500, dx: 2.0, fs: 250.0, duration_s: 600, chunk_s: 10}
    detection: {window_s: 60, ...}     (any DetectionParams field)

Records returned by ``step``: one ``{"type": "vehicle", ...}`` per finished vehicle (id,
t_center_s, speed_kmh, direction, class, confidence, t_entry_s, t_exit_s) and one
``{"type": "minute", ...}`` per completed minute (counts and mean speeds per direction),
followed by a ``{"type": "waterfall", ...}`` thumbnail of the last minute for dashboards.
"""
from __future__ import annotations

import math
from typing import Any

from edge_runtime.agent.task import Task, TaskContext
from edge_runtime.das.params import DetectionParams
from edge_runtime.das.sources import FolderSource, SimulatedSource
from edge_runtime.das.streaming import StreamingDetector
from edge_runtime.das.summaries import minute_summary
from edge_runtime.das.waterfall import WaterfallThumbnail


class DasTrafficTask(Task):
    kind = "das"

    def __init__(self, name: str, params: dict[str, Any], context: TaskContext):
        super().__init__(name, params, context)
        self.detection = DetectionParams.from_dict(params.get("detection"))
        source = params.get("source", "folder")
        if source == "folder":
            if "folder" not in params:
                raise ValueError(f"task {name!r}: source 'folder' needs params.folder")
            self.source: FolderSource | SimulatedSource = FolderSource(params["folder"], params.get("pattern"))
        elif source == "simulate":
            from edge_runtime.das.simulate import SceneConfig, make_scene
            sim = dict(params.get("simulate") or {})
            chunk_s = float(sim.pop("chunk_s", 10.0))
            self.source = SimulatedSource(make_scene(SceneConfig(**sim)), chunk_s)
        else:
            raise ValueError(f"task {name!r}: unknown source {source!r}; use 'folder' or 'simulate'")
        self.detector: StreamingDetector | None = None
        self.waterfall: WaterfallThumbnail | None = None
        self.recent: list[dict[str, Any]] = []      # the last minutes' vehicles, for the waterfall
        self.events: list[dict[str, Any]] = []
        self.next_minute = 0
        self.chunks = 0
        self.stream_s = 0.0

    def step(self) -> list[dict[str, Any]]:
        new: list[dict[str, Any]] = []
        for record in self.source.poll():
            if self.detector is None:
                self.detector = StreamingDetector.for_record(record, params=self.detection)
                geometry = self.detector.front.geometry
                self.waterfall = WaterfallThumbnail(geometry.out_fs, geometry.n_bins,
                                                    time0_s=self.detector.row_time0)
            new += self.detector.push(record.data)
            self.waterfall.push(self.detector.last_rows.mean(axis=1))
            self.chunks += 1
            self.stream_s += record.duration_s
        out = self._records(new)
        if isinstance(self.source, SimulatedSource) and self.source.finished:
            out += self.drain()
        return out

    def drain(self) -> list[dict[str, Any]]:
        """End of stream: process the last (shorter) window and return what it finishes."""
        if self.detector is None or not math.isfinite(self.detector.final_until_s):
            return []
        return self._records(self.detector.flush())

    def _records(self, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.events += new
        out = [{"type": "vehicle", **event} for event in new]
        if self.detector is None:
            return out
        horizon = min(self.detector.final_until_s, self.stream_s)
        self.recent = [e for e in self.recent + new if e["t_center_s"] >= self.stream_s - 180.0]
        while 60.0 * (self.next_minute + 1) <= horizon:
            out.append(minute_summary(self.next_minute, self.events, self.detector.t0))
            self.next_minute += 1
            out.append(self.waterfall.record(self.recent))
        self.events = [e for e in self.events if e["t_center_s"] >= 60.0 * self.next_minute]
        return out

    def status(self) -> dict[str, Any]:
        return {"source": type(self.source).__name__, "chunks": self.chunks,
                "stream_s": round(self.stream_s, 1),
                "windows": self.detector.windows_done if self.detector else 0,
                "next_minute": self.next_minute,
                "files_skipped": len(getattr(self.source, "skipped", []))}
