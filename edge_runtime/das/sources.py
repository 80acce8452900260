"""Where DAS chunks come from: a folder that keeps receiving files, or a simulation.

Both yield ``DasRecord`` chunks in time order and check that every chunk matches the
first one (rate, spacing, channel count), since the streaming filters assume one
continuous recording.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterator

from edge_runtime.das.readers import DasFormatError, read_das
from edge_runtime.das.record import DasRecord
from edge_runtime.das.simulate import Scene

PATTERNS = ("*.h5", "*.hdf5", "*.npz", "*.npy")
log = logging.getLogger(__name__)


class FolderSource:
    """New files in ``folder`` (sorted by name), each read once it has stopped growing."""

    def __init__(self, folder: str | Path, pattern: str | None = None, settle_s: float = 0.5):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"DAS folder {self.folder} does not exist; create it or fix 'folder'")
        self.patterns = (pattern,) if pattern else PATTERNS
        self.settle_s = settle_s
        self.done: set[str] = set()
        self.reference: DasRecord | None = None
        self.skipped: list[str] = []

    def pending(self) -> list[Path]:
        files = {p for pat in self.patterns for p in self.folder.glob(pat) if p.name not in self.done}
        now = time.time()
        return sorted(p for p in files if now - p.stat().st_mtime >= self.settle_s)

    def poll(self) -> Iterator[DasRecord]:
        """Records of the files that are complete now, oldest name first.

        A file that cannot be read, or does not match the stream, is logged and skipped
        (once): one bad file must not stop a monitoring station.
        """
        for path in self.pending():
            self.done.add(path.name)
            try:
                record = self.check(read_das(path))
            except DasFormatError as exc:
                self.skipped.append(str(exc))
                log.warning("skipping %s", exc)
                continue
            yield record

    def check(self, record: DasRecord) -> DasRecord:
        ref = self.reference
        if ref is None:
            self.reference = record
        elif (record.fs, record.dx, record.n_channels) != (ref.fs, ref.dx, ref.n_channels):
            raise DasFormatError(
                f"{record.source}: fs={record.fs} Hz, dx={record.dx} m, {record.n_channels} channels "
                f"differ from the stream's first file ({ref.fs} Hz, {ref.dx} m, {ref.n_channels} ch)")
        return record


class SimulatedSource:
    """A simulated scene delivered ``chunk_s`` seconds per poll."""

    def __init__(self, scene: Scene, chunk_s: float = 10.0):
        self.scene = scene
        self.chunk = int(round(chunk_s * scene.config.fs))
        self.position = 0

    @property
    def finished(self) -> bool:
        return self.position >= self.scene.n_samples

    def poll(self) -> Iterator[DasRecord]:
        if self.finished:
            return
        n = min(self.chunk, self.scene.n_samples - self.position)
        data = self.scene.render(self.position, n)
        self.position += n
        cfg = self.scene.config
        yield DasRecord(data, fs=cfg.fs, dx=cfg.dx, source=f"simulated@{self.position - n}")
