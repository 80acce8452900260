"""A persistent fleet graph served from memory: RocksDB keeps it, an in-memory copy answers.

Why: the canned queries take 1.5–5× longer on pyoxigraph's RocksDB store than in memory (10,000
devices: deployments_behind_latest p95 153 ms on disk, 34 ms in memory; benchmarks/sparql_bench.py).
The coordinator owns its graph, so it keeps a full copy in memory (≈ 400 MB at 10,000 devices)
and applies every write to both: the disk store is the durable one and what a restart loads, the
memory store serves queries. Writes go to disk first, so a refused or failed write changes
neither copy. Updates whose result differs per evaluation (BNODE(), UUID(), STRUUID(), RAND(),
NOW()) would make the copies disagree and are refused with the reason; blank nodes written
literally are fine (each copy holds an isomorphic graph).
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

from ontology.oxigraph_backend import OxigraphBackend
from ontology.store_errors import UpdateRefused

_PER_EVALUATION = re.compile(r"\b(BNODE|UUID|STRUUID|RAND|NOW)\s*\(", re.IGNORECASE)


class MirroredOxigraphBackend(OxigraphBackend):
    """Durable on disk (RocksDB), queried in memory: the inherited query paths read `self.store`,
    the inherited write paths go to `_written_stores()`, disk first."""

    def __init__(self, path: Path):
        super().__init__(path)
        self._disk = self.store
        self.store = self._ox.Store()
        with tempfile.TemporaryDirectory(prefix="graph-copy-") as tmp:
            dump = Path(tmp) / "graph.nq"
            self._disk.dump(output=str(dump), format=self._ox.RdfFormat.N_QUADS)
            self.store.bulk_load(path=str(dump), format=self._ox.RdfFormat.N_QUADS)
        self.location = f"{path} (served from memory)"

    def update(self, sparql: str) -> None:
        found = _PER_EVALUATION.search(sparql)
        if found:
            raise UpdateRefused(
                f"this graph is kept on disk and served from a memory copy, and {found.group(1).upper()}() "
                f"would give each copy a different value; compute the value in the client and write it "
                f"as a constant")
        super().update(sparql)  # a syntax error stops at the disk store: neither copy changes

    def _written_stores(self) -> tuple:
        return (self._disk, self.store)

    def close(self) -> None:
        if self._disk is not None:
            self._disk.flush()
            self._disk = None
        self.store = None
