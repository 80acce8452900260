"""SPARQL from outside, evaluated in a small pool of worker processes with time and memory limits.

Why processes: a query that overflows the engine's native stack (or exhausts memory) ends
the process it runs in. In a worker that costs one worker; in the coordinator it cost ingest,
the graph writer and the dashboard (issue 15). Each worker opens the graph store read-only
(RocksDB allows that beside the coordinator's writable handle) and re-opens it when its view
is older than ``fresh_s``, so answers lag the live graph by at most that. A worker that dies
is replaced and the caller gets ``QueryWorkerDied`` (HTTP 500 with the reason); one past the
time limit is killed and replaced (``QueryTimeout``, HTTP 503); one past its memory limit
answers ``QueryTooExpensive`` (HTTP 422: the same query would fail again) and is replaced.

Only text from the outside goes here; the coordinator's own lookups stay in-process.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import resource
import signal
import threading
import time
from pathlib import Path

from ontology.oxigraph_backend import MAX_ANSWER_BYTES, serialise_answer
from ontology.store_errors import QueryTimeout, QueryTooExpensive, SparqlSyntaxError

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 2
DEFAULT_MEMORY_MB = 1024
DEFAULT_FRESH_S = 1.0


class QueryFailed(RuntimeError):
    """The engine could not answer the query (the reason is in the message)."""


class QueryWorkerDied(QueryFailed):
    """The worker evaluating the query ended (crash or signal); a fresh one replaces it."""


def _vm_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


STALE_VIEW_TRIES = 4


def _stale_view(exc: Exception) -> bool:
    """RocksDB's answer when a read-only view outlived files the writing process compacted away
    (seen in the suite: 'IO error: No such file or directory: While open a file for random read:
    …/000009.sst'); a fresh view of the same directory reads the current files."""
    text = str(exc)
    return "No such file or directory" in text and (".sst" in text or "MANIFEST" in text)


def _serve(conn, location: str, memory_bytes: int, fresh_s: float) -> None:
    """Worker process: answer (sparql, fmt) requests on ``conn`` until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the parent decides when workers end
    # An allocation past the memory limit aborts inside the engine; a backtrace printed under
    # that memory pressure took the rest of the time limit (measured), so none is printed.
    os.environ["RUST_BACKTRACE"] = "0"
    import pyoxigraph as ox

    never = threading.Event()                        # the parent stops a worker by killing it
    if memory_bytes:
        limit = _vm_bytes() + memory_bytes           # on top of what the interpreter holds now
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    store, opened = None, 0.0
    conn.send(("ready", os.getpid()))
    while True:
        try:
            sparql, fmt = conn.recv()
        except (EOFError, OSError):
            return
        try:
            for attempt in range(STALE_VIEW_TRIES):
                try:
                    if store is None or time.monotonic() - opened > fresh_s:
                        store, opened = None, time.monotonic()
                        store = ox.Store.read_only(location)
                    answer = store.query(sparql)
                    break
                except Exception as exc:
                    # the writer compacted away files this view (or the one being opened, mid
                    # compaction) points at: a fresh view a moment later reads the current ones
                    if not _stale_view(exc) or attempt == STALE_VIEW_TRIES - 1:
                        raise
                    store = None
                    time.sleep(0.05 * (attempt + 1))
            reply = ("ok", *serialise_answer(answer, fmt, never, MAX_ANSWER_BYTES))
        except SyntaxError as exc:
            reply = ("syntax", str(exc))
        except MemoryError as exc:
            conn.send(("memory", str(exc) if isinstance(exc, QueryTooExpensive)
                       else f"the query needed more than {memory_bytes >> 20} MB"))
            return                                   # a fresh worker is cleaner than a recovered one
        except Exception as exc:  # anything else is the query's problem, reported as such
            reply = ("error", f"{type(exc).__name__}: {exc}")
        conn.send(reply)


class _Worker:
    def __init__(self, context, location: str, memory_bytes: int, fresh_s: float):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, location, memory_bytes, fresh_s),
                                       name="sparql-worker", daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.memory_bytes = memory_bytes

    def wait_ready(self, timeout: float) -> bool:
        if not self.ready and self.conn.poll(timeout):
            try:
                self.ready = self.conn.recv()[0] == "ready"
            except (EOFError, OSError):
                return False
        return self.ready

    def end(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def died_how(self) -> str:
        self.process.join(2)
        code = self.process.exitcode
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            hint = f": usually the {self.memory_bytes >> 20} MB memory limit" if name == "SIGABRT" else ""
            return f"killed by signal {name}{hint}"
        return f"exit code {code}"


class QueryPool:
    """``QueryPool(graph_dir).query_document(sparql, "json", timeout_s)`` → (content type, bytes)."""

    def __init__(self, location: str | Path, workers: int = DEFAULT_WORKERS,
                 memory_mb: int = DEFAULT_MEMORY_MB, fresh_s: float = DEFAULT_FRESH_S):
        self.location = str(Path(location).absolute())
        self.size = workers
        self.memory_bytes = memory_mb << 20
        self.fresh_s = fresh_s
        self.replaced = 0
        self._context = multiprocessing.get_context("spawn")   # never fork a threaded process
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(workers):
            self._idle.put(self._new())

    def _new(self) -> _Worker:
        return _Worker(self._context, self.location, self.memory_bytes, self.fresh_s)

    def _replace(self, worker: _Worker) -> None:
        worker.end()
        with self._lock:
            self.replaced += 1
            if not self._closed:
                self._idle.put(self._new())

    def query_document(self, sparql: str, fmt: str, timeout_s: float) -> tuple[str, bytes]:
        started = time.monotonic()
        try:
            worker = self._idle.get(timeout=timeout_s)
        except queue.Empty:
            raise QueryTimeout(f"all {self.size} query workers were busy for {timeout_s:g} s") from None
        left = lambda: max(0.0, timeout_s - (time.monotonic() - started))  # noqa: E731
        if not worker.wait_ready(max(left(), 5.0)):
            self._replace(worker)
            raise QueryWorkerDied(f"a query worker did not start ({worker.died_how()})")
        try:
            worker.conn.send((sparql, fmt))
            answered = worker.conn.poll(left())
            if answered:
                status, *answer = worker.conn.recv()
        except (EOFError, OSError):
            how = worker.died_how()
            self._replace(worker)
            log.warning("a SPARQL worker died evaluating a query (%s); replaced", how)
            raise QueryWorkerDied(f"the query worker ended while evaluating this query ({how}); "
                                  f"it was replaced, the coordinator is unaffected") from None
        if not answered:
            self._replace(worker)
            raise QueryTimeout(f"query ran past its {timeout_s:g} s limit (its worker was stopped)")
        if status == "memory":
            self._replace(worker)
            raise QueryTooExpensive(answer[0])
        self._idle.put(worker)
        if status == "syntax":
            raise SparqlSyntaxError.from_parser(answer[0])
        if status == "error":
            raise QueryFailed(answer[0])
        return answer[0], answer[1]

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                self._idle.get_nowait().end()
            except queue.Empty:
                return
