"""The one door to the fleet graph: local Oxigraph (on disk or in memory) or any SPARQL 1.1 endpoint.

`GraphStore.open(location)` picks the backend from the location, so moving the graph from the
coordinator's data directory to Fuseki/GraphDB/Oxigraph server is a configuration change:
  * a directory          → persistent pyoxigraph Store (RocksDB) under it
  * None / ":memory:"    → in-memory Oxigraph (tests, benchmarks)
  * http(s)://…          → SPARQL 1.1 Protocol (query + update) at that URL
Descriptions are SHACL-validated on the way in (see ontology.shacl).
"""
from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

from rdflib import Graph, URIRef
from rdflib.plugins.serializers.nt import _nt_row   # one N-Triples line, as Graph.serialize writes it

from ontology.results import CSV_TYPE, JSON_TYPE, NT_TYPE, QueryResult, Term

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
_POSITION = re.compile(r"(?:error at |line )(\d+):(\d+)")


class SparqlSyntaxError(ValueError):
    """Malformed SPARQL; carries the parser's message and the 1-based line/column when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.message, self.line, self.column = message, line, column
        where = f" at line {line}, column {column}" if line else ""
        super().__init__(f"SPARQL syntax error{where}: {message}")

    @classmethod
    def from_parser(cls, text: str) -> "SparqlSyntaxError":
        found = _POSITION.search(text)
        if not found:
            return cls(text.strip())
        message = _POSITION.sub("", text, count=1).lstrip(": ").strip() or text.strip()
        return cls(message, int(found.group(1)), int(found.group(2)))


class UpdateRefused(ValueError):
    """The store will not apply this update as written; the message says why and what to do."""


class QueryTimeout(TimeoutError):
    """The query ran past its time limit."""


class StoreUnavailable(OSError):
    """The store could not be opened or reached; the message says what to do."""


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


class _OxigraphBackend:
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

    def query(self, sparql: str, timeout_s: float) -> QueryResult:
        return self._in_worker(lambda cancelled: self._evaluate(sparql, cancelled), timeout_s)

    def query_document(self, sparql: str, fmt: str, timeout_s: float) -> tuple[str, bytes]:
        """The answer serialised by Oxigraph itself (SPARQL JSON or CSV; N-Triples for graphs).

        No Python object per value: a 6,000-row answer is ~3× cheaper this way. The serialiser
        runs to the end once started, so a time limit stops only queries still evaluating.
        """
        return self._in_worker(lambda cancelled: self._serialise(sparql, fmt), timeout_s)

    def _serialise(self, sparql: str, fmt: str) -> tuple[str, bytes]:
        ox = self._ox
        answer = self._run_query(sparql)
        if isinstance(answer, ox.QueryTriples):
            return NT_TYPE, answer.serialize(format=ox.RdfFormat.N_TRIPLES)
        if isinstance(answer, ox.QueryBoolean):  # one value: our own CSV form (with a header row)
            return QueryResult("ask", boolean=bool(answer)).to_document(fmt)
        if fmt == "csv":
            return CSV_TYPE, answer.serialize(format=ox.QueryResultsFormat.CSV)
        return JSON_TYPE, answer.serialize(format=ox.QueryResultsFormat.JSON)

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
            except BaseException as exc:  # handed to the caller's thread
                box["error"] = exc
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
        triples = [(_term(t.subject), _term(t.predicate), _term(t.object)) for t in answer]
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


def _live_device_predicates() -> tuple[str, ...]:
    from ontology.ns import ER
    return tuple(str(ER[p]) for p in ("online", "lastSeen", "statusSince", "temperatureC", "cpuPercent",
                                      "memoryUsedBytes", "healthUpdated", "participatedIn"))


def _removal_statements(subject: str | URIRef, keep: tuple[str, ...]) -> tuple[str, str]:
    """The two DELETEs of `remove_description`: the subject's own sub-nodes, then the subject."""
    iri = str(URIRef(subject))
    owned = f"""
        DELETE {{ ?c ?cp ?co }} WHERE {{
          <{iri}> ?p ?c . FILTER(isIRI(?c) && STRSTARTS(STR(?c), "{iri}/")) ?c ?cp ?co }}"""
    keep_filter = (f"FILTER(?p NOT IN ({', '.join(f'<{URIRef(k)}>' for k in keep)}))"
                   if keep else "")
    own = f"DELETE {{ <{iri}> ?p ?o }} WHERE {{ <{iri}> ?p ?o {keep_filter} }}"
    return owned, own


# what a device's re-sent description leaves in place (its live state)
LIVE_DEVICE_PREDICATES = _live_device_predicates()


class GraphStore:
    """The fleet graph behind one interface, whatever holds it."""

    def __init__(self, backend):
        self._backend = backend
        self.location = backend.location
        self._write_lock = threading.Lock()

    @classmethod
    def open(cls, location: str | Path | None = None, *, read_only: bool = False,
             token: str | None = None, memory_copy: bool = False) -> "GraphStore":
        """Directory → persistent Oxigraph; None/':memory:' → in-memory; http(s) URL → endpoint.

        `memory_copy` (directories, not read-only): keep the store on disk but answer queries
        from an in-memory copy of it (ontology.store_mirror; the coordinator's choice).
        """
        if location is None or str(location) == ":memory:":
            return cls(_OxigraphBackend(None))
        text = str(location)
        if text.startswith(("http://", "https://")):
            from ontology.sparql_http import HttpBackend
            return cls(HttpBackend(text, token=token))
        if memory_copy and not read_only:
            from ontology.store_mirror import MirroredOxigraphBackend
            return cls(MirroredOxigraphBackend(Path(text).expanduser()))
        return cls(_OxigraphBackend(Path(text).expanduser(), read_only=read_only))

    # ---- reading -------------------------------------------------------------------------
    def query_result(self, sparql: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> QueryResult:
        """Raw result (terms); raises SparqlSyntaxError or QueryTimeout."""
        return self._backend.query(sparql, timeout_s)

    def query(self, sparql: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[dict[str, Any]]:
        """SELECT rows as dicts of Python values (ASK → [{'boolean': bool}])."""
        result = self.query_result(sparql, timeout_s)
        if result.form == "ask":
            return [{"boolean": bool(result.boolean)}]
        return result.dicts()

    def query_document(self, sparql: str, fmt: str = "json",
                       timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[str, bytes]:
        """(content type, bytes) of the answer as a SPARQL client gets it: SELECT/ASK as SPARQL
        JSON (fmt='json') or CSV (fmt='csv'), CONSTRUCT/DESCRIBE as N-Triples. Serialised by the
        store itself where it can (Oxigraph), else from the parsed result."""
        if hasattr(self._backend, "query_document"):
            return self._backend.query_document(sparql, fmt, timeout_s)
        return self.query_result(sparql, timeout_s).to_document(fmt)

    def lookup(self, sparql: str) -> list[dict[str, Any]]:
        """Rows (dicts) of a small query bounded by constant subjects, run in the caller's thread.

        For the write paths of the materialised views, which run a few such lookups per event:
        a worker thread per query (the time-limit machinery) doubled their cost. No time limit:
        never pass user text here.
        """
        inline = getattr(self._backend, "lookup", None)
        return (inline(sparql) if inline else self.query_result(sparql)).dicts()

    def ask(self, sparql: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> bool:
        return bool(self.query_result(sparql, timeout_s).boolean)

    def triple_count(self) -> int:
        rows = self.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", timeout_s=120)
        return int(rows[0]["n"])

    # ---- writing -------------------------------------------------------------------------
    def update(self, sparql: str) -> None:
        with self._write_lock:
            self._backend.update(sparql)

    def add_graph(self, data: Graph | str, validate: bool = True) -> int:
        """Add a description (rdflib Graph or Turtle text); SHACL-validated unless validate=False.

        Returns the number of triples added; raises ontology.shacl.DescriptionRejected.
        """
        graph = data if isinstance(data, Graph) else Graph().parse(data=data, format="turtle")
        if validate:
            from ontology.shacl import check
            check(graph)
        with self._write_lock:
            self._backend.load_ntriples(graph.serialize(format="nt"))
        return len(graph)

    def load_ntriples(self, text: str) -> None:
        """Bulk-add trusted N-Triples text (no validation): generated fleets, dumps."""
        with self._write_lock:
            self._backend.load_ntriples(text)

    def load_file(self, path: str | Path, fmt: str = "turtle") -> None:
        """Bulk-load a trusted file (no validation): vocabularies, benchmark fleets."""
        with self._write_lock:
            self._backend.load_file(Path(path), fmt)

    def remove_description(self, subject: str | URIRef, keep: tuple[str, ...] = ()) -> None:
        """Delete what `subject` says and what its own sub-nodes (IRIs under `subject/`) say.

        `keep` lists predicate IRIs to leave on the subject (live state such as er:online that a
        re-sent description does not carry).
        """
        with self._write_lock:
            for statement in _removal_statements(subject, keep):
                self._backend.update(statement)

    def replace_descriptions(self, items: list[tuple[str | URIRef, Graph]], keep: tuple[str, ...] = ()) -> int:
        """Many (subject, description) swaps in two writes: one update removing every old
        description, one load adding the new ones (the batched live graph's births). Trusted
        data: validate before. Returns the number of triples added."""
        if not items:
            return 0
        removals = " ;\n".join(statement for subject, _ in items
                                for statement in _removal_statements(subject, keep))
        combined = Graph()
        for _, graph in items:
            combined += graph
        with self._write_lock:
            self._backend.update(removals)
            self._backend.load_ntriples(combined.serialize(format="nt"))
        return len(combined)

    def set_properties(self, data) -> None:
        """Overwrite: for every (subject, predicate) in `data`, old values go, the new ones stay.

        For live state (online, last seen, health figures) that must never accumulate; one
        SPARQL update, so readers never see a device with neither the old nor the new value.
        `data` is a Graph or any iterable of triples (the live writer's plain lists: building
        an rdflib Graph to serialise it again was half the cost). The old values go in one
        DELETE joined on a VALUES list, not one DELETE WHERE per pair: 0.14 vs 0.24 s for
        6,000 pairs on this box.
        """
        triples = list(data)
        pairs = sorted({(s.n3(), p.n3()) for s, p, _ in triples})
        if not pairs:
            return
        values = "\n".join(f"({s} {p})" for s, p in pairs)
        inserts = "".join(_nt_row(triple) for triple in triples)
        with self._write_lock:
            self._backend.update(f"DELETE {{ ?s ?p ?o }} WHERE {{ VALUES (?s ?p) {{\n{values}\n}} ?s ?p ?o }} ;\n"
                                 f"INSERT DATA {{\n{inserts}}}")

    def replace_description(self, subject: str | URIRef, data: Graph, validate: bool = True,
                            keep: tuple[str, ...] = ()) -> int:
        """Validate `data`, then swap it in for what the graph said about `subject`."""
        if validate:
            from ontology.shacl import check
            check(data)
        self.remove_description(subject, keep=keep)
        return self.add_graph(data, validate=False)

    def replace_device(self, device_graph: Graph, device_id: str, validate: bool = True) -> int:
        """A device re-registered: new static description, live state (online, health) kept."""
        from ontology.ns import device_iri
        return self.replace_description(device_iri(device_id), device_graph, validate, keep=LIVE_DEVICE_PREDICATES)

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> "GraphStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GraphStore({self.location!r})"
