"""Oxigraph in this process: on disk (RocksDB) or in memory, with query time and answer-size limits."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from ontology.results import CSV_TYPE, JSON_TYPE, NT_TYPE, QueryResult, Term
from ontology.store_errors import QueryTimeout, QueryTooExpensive, SparqlSyntaxError, StoreUnavailable

MAX_ANSWER_BYTES = 256 * 2**20   # a serialised answer past this is refused (add a LIMIT)
FLUSH_EVERY_BYTES = 4 * 2**20    # on disk: flush RocksDB's write buffers after this much update text


class _AnswerSink:
    """Where Oxigraph writes a serialised answer: refuses past max_bytes, stops once cancelled.

    Without it a timed-out ``SELECT * { ?a ?p ?b . ?c ?q ?d . ?e ?r ?f }`` kept serialising its
    billions of rows in the background until the process ran out of memory (24 GB in the suite).
    Raising from write() aborts Oxigraph's serialiser at the next chunk.
    """

    def __init__(self, cancelled: threading.Event, max_bytes: int):
        self._chunks: list[bytes] = []
        self._size = 0
        self._cancelled = cancelled
        self._max_bytes = max_bytes

    def write(self, chunk: bytes) -> int:
        if self._cancelled.is_set():
            raise QueryTimeout("query stopped: its time limit passed")
        self._size += len(chunk)
        if self._size > self._max_bytes:
            raise QueryTooExpensive(f"the answer is over {self._max_bytes / 2**20:g} MB; "
                                    f"add a LIMIT or select fewer variables")
        self._chunks.append(bytes(chunk))
        return len(chunk)

    def flush(self) -> None:
        pass

    def getvalue(self) -> bytes:
        return b"".join(self._chunks)


def _term(node, _classes: dict = {}) -> Term | None:
    """pyoxigraph term → Term (class lookups cached: this runs for every cell of every row)."""
    if node is None:
        return None
    if not _classes:
        import pyoxigraph
        _classes.update({pyoxigraph.NamedNode: "uri", pyoxigraph.BlankNode: "bnode",
                         pyoxigraph.Literal: "literal"})
    kind = _classes.get(node.__class__)
    if kind == "literal":
        language = node.language
        return Term("literal", node.value, None if language else node.datatype.value, language)
    if kind is not None:
        return Term(kind, node.value)
    return Term("literal", str(node))  # RDF-star triple terms: shown as text


def serialise_answer(answer, fmt: str, cancelled: threading.Event, max_bytes: int) -> tuple[str, bytes]:
    """(content type, bytes) of a pyoxigraph answer in Oxigraph's own serialiser (bounded, stoppable)."""
    import pyoxigraph as ox

    if isinstance(answer, ox.QueryBoolean):  # one value: our own CSV form (with a header row)
        return QueryResult("ask", boolean=bool(answer)).to_document(fmt)
    if isinstance(answer, ox.QueryTriples):
        content_type, form = NT_TYPE, ox.RdfFormat.N_TRIPLES
    elif fmt == "csv":
        content_type, form = CSV_TYPE, ox.QueryResultsFormat.CSV
    else:
        content_type, form = JSON_TYPE, ox.QueryResultsFormat.JSON
    sink = _AnswerSink(cancelled, max_bytes)
    answer.serialize(sink, format=form)
    return content_type, sink.getvalue()


class OxigraphBackend:
    """pyoxigraph; queries run in a worker thread (Oxigraph releases the GIL) so a time limit holds.

    A timed-out query stops at its next result row. One that computes a single huge aggregate
    cannot be interrupted and finishes in the background, so at most MAX_RUNNING queries run at
    once: runaway queries cannot pile up and starve the coordinator.
    """

    MAX_RUNNING = 4

    def __init__(self, path: Path | None, read_only: bool = False):
        import pyoxigraph

        self._ox = pyoxigraph
        if path is None:
            self.store = pyoxigraph.Store()
        else:
            path.mkdir(parents=True, exist_ok=True)
            try:
                self.store = (pyoxigraph.Store.read_only(str(path)) if read_only
                              else pyoxigraph.Store(str(path)))
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot open the graph store in {path}: {exc}. If the coordinator is running it "
                    f"holds this store; query it through its endpoint instead (--endpoint URL)") from exc
        self.location = str(path) if path else ":memory:"
        self.read_only = read_only
        self._slots = threading.BoundedSemaphore(self.MAX_RUNNING)
        self.flush_every_bytes = FLUSH_EVERY_BYTES
        self.unflushed_bytes = 0
        self.flushes = 0

    def query(self, sparql: str, timeout_s: float) -> QueryResult:
        return self._in_worker(lambda cancelled: self._evaluate(sparql, cancelled), timeout_s)

    def query_document(self, sparql: str, fmt: str, timeout_s: float) -> tuple[str, bytes]:
        """The answer serialised by Oxigraph itself (SPARQL JSON or CSV; N-Triples for graphs).

        No Python object per value: a 6,000-row answer is ~3× cheaper this way. The serialiser
        runs to the end once started, so a time limit stops only queries still evaluating.
        """
        return self._in_worker(lambda cancelled: self._serialise(sparql, fmt, cancelled), timeout_s)

    def _serialise(self, sparql: str, fmt: str, cancelled: threading.Event) -> tuple[str, bytes]:
        return serialise_answer(self._run_query(sparql), fmt, cancelled, MAX_ANSWER_BYTES)

    def _in_worker(self, work_fn, timeout_s: float):
        """Run work_fn(cancelled) in a worker thread; raise QueryTimeout past timeout_s."""
        box: dict[str, Any] = {}
        cancelled = threading.Event()
        started = time.monotonic()
        if not self._slots.acquire(timeout=timeout_s):
            raise QueryTimeout(f"all {self.MAX_RUNNING} query slots are busy with earlier long queries; "
                               f"waited {timeout_s:g} s")

        def work():
            try:
                box["result"] = work_fn(cancelled)
            except BaseException as exc:  # handed to the caller's thread, without this thread's
                box["error"] = exc.with_traceback(None)   # frames: they hold Oxigraph objects
                exc.__context__ = None                      # that may only be dropped here
            finally:
                self._slots.release()

        worker = threading.Thread(target=work, name="sparql-query", daemon=True)
        worker.start()
        worker.join(max(0.0, timeout_s - (time.monotonic() - started)))
        if worker.is_alive():
            cancelled.set()  # stops at the next row; a single long aggregate runs on unobserved
            raise QueryTimeout(f"query ran past its {timeout_s:g} s limit")
        if "error" in box:
            raise box["error"]
        return box["result"]

    def lookup(self, sparql: str) -> QueryResult:
        return self._evaluate(sparql, threading.Event())

    def _run_query(self, sparql: str):
        try:
            return self.store.query(sparql)
        except SyntaxError as exc:
            raise SparqlSyntaxError.from_parser(str(exc)) from None

    def _evaluate(self, sparql: str, cancelled: threading.Event) -> QueryResult:
        answer = self._run_query(sparql)
        if isinstance(answer, self._ox.QueryBoolean):
            return QueryResult("ask", boolean=bool(answer))
        if isinstance(answer, self._ox.QuerySolutions):
            variables = [v.value for v in answer.variables]
            rows = []
            for solution in answer:
                if cancelled.is_set():
                    break
                rows.append(tuple(map(_term, solution)))
            return QueryResult("select", variables=variables, rows=rows)
        triples = []
        for t in answer:
            if cancelled.is_set():
                break
            triples.append((_term(t.subject), _term(t.predicate), _term(t.object)))
        return QueryResult("graph", triples=triples)

    def _written_stores(self) -> tuple:
        """Every store a write goes to, in order (one here; the mirror writes disk, then memory)."""
        return (self.store,)

    def update(self, sparql: str) -> None:
        for store in self._written_stores():
            try:
                store.update(sparql)
            except SyntaxError as exc:
                raise SparqlSyntaxError.from_parser(str(exc)) from None
        self._updated(len(sparql))

    def _updated(self, text_bytes: int) -> None:
        """Flush an on-disk store's write buffers now and then.

        pyoxigraph's RocksDB keeps every write in memory until a flush: a coordinator replacing
        1,000 figures a second grew ~0.5 MB/s for that alone (960,000 changes: +500 MB), while a
        flush per 40,000 changes (0.15 s, GIL released) kept it flat. Loads add no garbage and
        are not counted.
        """
        if self.location == ":memory:" or self.read_only:
            return
        self.unflushed_bytes += text_bytes
        if self.unflushed_bytes >= self.flush_every_bytes:
            self.unflushed_bytes = 0
            self._flush_disk()

    def _flush_disk(self) -> None:
        self._written_stores()[0].flush()    # the durable store comes first
        self.flushes += 1

    def load_ntriples(self, data: str) -> None:
        for store in self._written_stores():
            store.load(data, format=self._ox.RdfFormat.N_TRIPLES)

    def load_file(self, path: Path, fmt: str) -> None:
        formats = {"turtle": self._ox.RdfFormat.TURTLE, "nt": self._ox.RdfFormat.N_TRIPLES}
        for store in self._written_stores():
            store.bulk_load(path=str(path), format=formats[fmt])

    def close(self) -> None:
        """Flush and release the store (RocksDB's lock goes with the last reference)."""
        if self.store is not None and self.location != ":memory:":
            if not self.read_only:
                self.store.flush()
            self.store = None
