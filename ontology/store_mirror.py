"""A persistent fleet graph served from memory: RocksDB keeps it, an in-memory copy answers.

Why: the canned queries take 1.5–5× longer on pyoxigraph's RocksDB store than in memory (10,000
devices: deployments_behind_latest p95 153 ms on disk, 34 ms in memory; benchmarks/sparql_bench.py).
The coordinator owns its graph, so it keeps a full copy in memory (≈ 400 MB at 10,000 devices)
and applies every write to both: the disk store is the durable one and what a restart loads, the
memory store serves queries. Writes go to disk first, so a refused or failed write changes
neither copy. Updates whose result differs per evaluation (BNODE(), UUID(), STRUUID(), RAND(),
NOW()) would make the copies disagree and are refused with the reason; blank nodes written
literally are fine (each copy holds an isomorphic graph).

The memory copy is rebuilt now and then (`compact`). pyoxigraph's memory store is versioned and
never frees what a write replaced: every changed figure (a new lastSeen, count, temperature) kept
~0.5 KB, as did RocksDB's unflushed write buffers on the disk side, and a 10,000-device coordinator
grew by ~0.9 MB/s — 466 MB in a 10-minute soak. A copy loaded from a dump holds only the current
graph. It is rebuilt once the update text reaches 10 % of the copy's dump, at most once a minute
and 5 % of the time (10,000 devices: 7 rebuilds of ~4 s in 10 min, RSS +31 MB); the disk side is
flushed every 4 MB (OxigraphBackend). The rebuild runs beside the writers: the dump is
taken under the write lock (GIL released, ~0.7 s per 400 k quads), the slow load runs outside it
(GIL released) while writes go on and are journaled, and the journal is replayed onto the new
copy before the swap; while it loads, the disk store answers queries, so the two copies are never
in memory at once. Replay is exact because updates that evaluate differently are refused.
"""
from __future__ import annotations

import ctypes
import logging
import re
import tempfile
import threading
import time
from pathlib import Path

from ontology.oxigraph_backend import OxigraphBackend
from ontology.store_errors import UpdateRefused

log = logging.getLogger(__name__)

_PER_EVALUATION = re.compile(r"\b(BNODE|UUID|STRUUID|RAND|NOW)\s*\(", re.IGNORECASE)

COMPACT_RATIO = 0.1             # rebuild once the update text since the last copy reaches this
COMPACT_MIN_BYTES = 4 * 2**20   # share of the copy's dump size (never below this many bytes)
COMPACT_MIN_INTERVAL_S = 60.0   # and never sooner than this after the last rebuild ended,
COMPACT_MAX_DUTY = 0.05         # nor sooner than last duration / this (≤ 5 % of the time rebuilding)


def _return_freed_memory() -> None:
    """Hand the freed heap back to the OS (glibc keeps it otherwise and RSS never falls)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):   # not glibc (musl, macOS): the allocator decides
        pass


class MirroredOxigraphBackend(OxigraphBackend):
    """Durable on disk (RocksDB), queried in memory: the inherited query paths read `self.store`,
    the inherited write paths go to `_written_stores()`, disk first."""

    def __init__(self, path: Path, compact_ratio: float = COMPACT_RATIO,
                 compact_min_bytes: int = COMPACT_MIN_BYTES,
                 compact_min_interval_s: float = COMPACT_MIN_INTERVAL_S):
        super().__init__(path)
        self._disk = self.store
        self._scratch = path.parent
        self._swap = threading.Lock()          # writes vs. the two short phases of a rebuild
        self._journal: list[tuple[str, object]] | None = None
        self._compactor: threading.Thread | None = None
        self.compact_ratio = compact_ratio
        self.compact_min_bytes = compact_min_bytes
        self.compact_min_interval_s = compact_min_interval_s
        self._last_compaction_end = time.monotonic()
        self.written_bytes = 0                 # update text since the copy was made
        self.copy_bytes = 0                    # dump size of the copy when it was made
        self.compactions = 0
        self.last_compaction_s = 0.0
        self.compaction_errors = 0
        self.store = self._copy_of(self._disk)
        self.location = f"{path} (served from memory)"

    def _copy_of(self, source):
        """A fresh memory store holding what `source` holds (via an N-Quads dump)."""
        fresh = self._ox.Store()
        with tempfile.TemporaryDirectory(prefix="graph-copy-", dir=self._scratch) as tmp:
            dump = Path(tmp) / "graph.nq"
            source.dump(output=str(dump), format=self._ox.RdfFormat.N_QUADS)
            self.copy_bytes = dump.stat().st_size
            self._load_copy(fresh, dump)
        return fresh

    # ---- writing -------------------------------------------------------------------------
    def update(self, sparql: str) -> None:
        found = _PER_EVALUATION.search(sparql)
        if found:
            raise UpdateRefused(
                f"this graph is kept on disk and served from a memory copy, and {found.group(1).upper()}() "
                f"would give each copy a different value; compute the value in the client and write it "
                f"as a constant")
        with self._swap:
            super().update(sparql)  # a syntax error stops at the disk store: neither copy changes
            self._journal_append("update", sparql)

    def _updated(self, text_bytes: int) -> None:
        """Replaced figures are garbage in both copies (loads add none): flush and rebuild when due."""
        super()._updated(text_bytes)     # the disk store's write buffers, every few MB
        self.written_bytes += text_bytes
        if self._compactor is None and self._disk is not None and self.compaction_due():
            self._compactor = threading.Thread(target=self._compact_in_background,
                                               name="graph-compaction", daemon=True)
            self._compactor.start()

    def load_ntriples(self, data: str) -> None:
        with self._swap:
            super().load_ntriples(data)
            self._journal_append("nt", data)

    def load_file(self, path: Path, fmt: str) -> None:
        with self._swap:
            super().load_file(path, fmt)
            if self._journal is not None:     # read now: the file may be gone by replay time
                self._journal_append(fmt, path.read_bytes())

    def _journal_append(self, kind: str, data) -> None:
        if self._journal is not None:
            self._journal.append((kind, data))

    def _written_stores(self) -> tuple:
        if self.store is self._disk:           # a rebuild is loading: the disk store serves
            return (self._disk,)
        return (self._disk, self.store)

    # ---- compaction ----------------------------------------------------------------------
    def compaction_due(self) -> bool:
        """Enough replaced (update text vs the copy's size), and not too soon: a 10,000-device
        soak rebuilt every 16 s on bytes alone (3.2 s each, 20 % of a core, graph lag 16 s)."""
        if self.written_bytes < max(self.compact_min_bytes, self.compact_ratio * self.copy_bytes):
            return False
        wait = max(self.compact_min_interval_s, self.last_compaction_s / COMPACT_MAX_DUTY)
        return time.monotonic() - self._last_compaction_end >= wait

    def _compact_in_background(self) -> None:
        try:
            self.compact()
        except Exception:   # queries stay on the disk store; the next due write tries again
            self.compaction_errors += 1
            log.exception("rebuilding the in-memory graph copy failed; serving from the disk store")
        finally:
            self._compactor = None

    def compact(self) -> None:
        """Replace the memory copy by a fresh load of the current graph (frees replaced figures).

        The old copy is dropped *before* the new one is loaded, and the disk store answers
        meanwhile (same graph, slower): building beside it would need both at once — +240 MB
        for a few seconds at 10,000 devices (731 k triples), more than the leak it cures.
        """
        started = time.monotonic()
        fresh = self._ox.Store()
        with tempfile.TemporaryDirectory(prefix="graph-compact-", dir=self._scratch) as tmp:
            dump = Path(tmp) / "graph.nq"
            with self._swap:                   # writes wait for the dump (GIL released)
                if self.store is None:
                    return
                self.store.dump(output=str(dump), format=self._ox.RdfFormat.N_QUADS)
                old, self.store = self.store, self._disk     # writes now go to disk + journal
                self._journal = []
                self.written_bytes = 0
            del old                            # queries still running on it keep their reference
            _return_freed_memory()
            try:
                self._load_copy(fresh, dump)   # the slow part: writers and readers go on
                copy_bytes = dump.stat().st_size
            except BaseException:
                with self._swap:
                    self._journal = None
                raise
        with self._swap:
            journal, self._journal = self._journal, None
            if self.store is None:             # closed meanwhile
                return
            for kind, data in journal:
                self._replay(fresh, kind, data)
            self.store = fresh
            self.copy_bytes = copy_bytes
        self.compactions += 1
        self._last_compaction_end = time.monotonic()
        self.last_compaction_s = round(self._last_compaction_end - started, 3)
        log.info("graph memory copy rebuilt in %.2f s (%d writes replayed)", self.last_compaction_s, len(journal))

    def _load_copy(self, store, dump: Path) -> None:
        store.load(path=str(dump), format=self._ox.RdfFormat.N_QUADS)   # releases the GIL

    def _replay(self, store, kind: str, data) -> None:
        formats = {"nt": self._ox.RdfFormat.N_TRIPLES, "turtle": self._ox.RdfFormat.TURTLE}
        if kind == "update":
            store.update(data)
        else:
            store.load(data, format=formats[kind])

    def maintenance_stats(self) -> dict[str, float]:
        return {"compactions": self.compactions, "flushes": self.flushes,
                "compaction_s": self.last_compaction_s, "compaction_errors": self.compaction_errors,
                "update_bytes_since_copy": self.written_bytes}

    def close(self) -> None:
        compactor = self._compactor
        if compactor is not None:
            compactor.join(timeout=120)
        with self._swap:
            if self._disk is not None:
                self._disk.flush()
                self._disk = None
            self.store = None
