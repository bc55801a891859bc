"""SPARQL queries run in worker processes that can be killed.

A runaway query (a cross product, a huge ORDER BY) cannot be interrupted inside the store, so each
query runs in one of a few worker processes over a read-only on-disk copy of the store. If it is
not done within the time limit the worker is killed and replaced, and the client gets a clean error
status; the other workers, and the rest of the API, keep serving meanwhile. Results are capped in
rows and bytes: a result over a cap is an error, never a 200 cut short.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing as mp
import queue
import shutil
import tempfile
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import pyoxigraph as ox

RESULT_FORMATS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}


class QueryFailed(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class QueryRequest:
    text: str
    media_type: str
    default_graphs: list[str]
    named_graphs: list[str]
    max_rows: int
    max_bytes: int
    base_iri: str | None = None  # relative IRIs in the query resolve against the request URL


class _CappedBuffer(io.RawIOBase):
    def __init__(self, limit: int):
        self.buffer = bytearray()
        self.limit = limit

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.buffer += data
        if len(self.buffer) > self.limit:
            raise OverflowError
        return len(data)


def execute(store: ox.Store, request: QueryRequest) -> bytes:
    """Run one query on `store` and serialize it, within the row and byte caps."""
    kwargs: dict[str, Any] = {"base_iri": request.base_iri} if request.base_iri else {}
    if request.default_graphs:
        kwargs["default_graph"] = [ox.NamedNode(g) for g in request.default_graphs]
    if request.named_graphs:
        kwargs["named_graphs"] = [ox.NamedNode(g) for g in request.named_graphs]
        kwargs.setdefault("default_graph", [])  # named graphs alone: the default graph is empty (SPARQL 1.1 §13.2)

    def run() -> Any:
        try:
            return store.query(request.text, **kwargs)
        except (SyntaxError, ValueError, OSError) as exc:
            raise QueryFailed(400, f"the query could not be evaluated: {exc}") from None

    # A first pass counts up to the row cap (iterators stop early); a second pass serializes with the
    # store's own serializer, so every format is exactly as the store writes it.
    result = run()
    if isinstance(result, ox.QueryBoolean):
        out = _CappedBuffer(request.max_bytes)
        result_format = RESULT_FORMATS[request.media_type]
        if result_format in (ox.QueryResultsFormat.CSV, ox.QueryResultsFormat.TSV):
            raise QueryFailed(406, "ASK results have no CSV or TSV form; ask for JSON or XML")
        result.serialize(out, format=result_format)
        return bytes(out.buffer)
    for count, _ in enumerate(result, 1):
        if count > request.max_rows:
            noun = "rows" if isinstance(result, ox.QuerySolutions) else "triples"
            raise QueryFailed(400, f"the result has more than {request.max_rows} {noun}, this endpoint's cap: "
                                   "narrow the query or add a LIMIT")
    result = run()
    out = _CappedBuffer(request.max_bytes)
    try:
        if isinstance(result, ox.QuerySolutions):
            result.serialize(out, format=RESULT_FORMATS[request.media_type])
        else:
            ox.serialize(result, out, format=GRAPH_FORMATS[request.media_type])
    except OverflowError:
        raise QueryFailed(400, f"the result is larger than {request.max_bytes} bytes, this endpoint's cap: "
                               "narrow the query or add a LIMIT") from None
    return bytes(out.buffer)


def _worker_main(path: str, connection: Connection) -> None:
    store = ox.Store.read_only(path)
    connection.send(("ready",))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        try:
            connection.send(("ok", execute(store, request)))
        except QueryFailed as exc:
            connection.send(("error", exc.status, exc.message))
        except Exception as exc:  # the store's own errors: report, keep serving
            connection.send(("error", 400, f"the query could not be evaluated: {exc}"))


class _Worker:
    def __init__(self, context: Any, path: str):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(path, child), daemon=True)
        self.process.start()
        child.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()


class QueryPool:
    """A few killable query workers over a read-only on-disk copy of a store."""

    def __init__(self, store: ox.Store, workers: int = 2, timeout_s: float = 10.0):
        self.timeout_s = timeout_s
        self._dir = tempfile.mkdtemp(prefix="connectkb-sparql-")
        disk = ox.Store(self._dir)
        disk.bulk_extend(store)
        disk.flush()
        del disk  # releases the write lock before the workers open the copy read-only
        self._context = mp.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        for _ in range(workers):
            self._add()

    def _add(self) -> None:
        """Start a worker and hand it out only once it has opened the store, so that its start-up
        never counts against a query's time limit."""
        worker = _Worker(self._context, self._dir)
        with self._lock:
            self._all.append(worker)
        if worker.connection.poll(120) and worker.connection.recv() == ("ready",):
            self._idle.put(worker)
        else:
            worker.kill()
            with self._lock:
                self._all.remove(worker)

    def run(self, request: QueryRequest) -> bytes:
        try:
            worker = self._idle.get(timeout=max(30.0, self.timeout_s))  # waiting for a worker is not running
        except queue.Empty:
            raise QueryFailed(503, "every query worker is busy; try again shortly") from None
        try:
            worker.connection.send(request)
            if not worker.connection.poll(self.timeout_s):
                self._replace(worker)
                worker = None
                raise QueryFailed(503, f"the query was stopped after {self.timeout_s:g} s, this endpoint's time "
                                       "limit; narrow it or add a LIMIT")
            reply = worker.connection.recv()
        except (EOFError, OSError, BrokenPipeError):
            if worker is not None:
                self._replace(worker)
                worker = None
            raise QueryFailed(503, "the query worker failed; try again") from None
        finally:
            if worker is not None:
                self._idle.put(worker)
        if reply[0] == "ok":
            return reply[1]
        raise QueryFailed(reply[1], reply[2])

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.remove(worker)
        threading.Thread(target=self._add, daemon=True).start()  # the caller answers at once

    def close(self) -> None:
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.kill()
        shutil.rmtree(self._dir, ignore_errors=True)
