"""SPARQL requests are checked and run in worker processes that can be killed.

A runaway query (a cross product, a huge ORDER BY), or a query that takes rdflib long to parse, cannot
be interrupted inside the process, so each request goes to one of a few worker processes. A worker
canonicalizes, parses and guards the query (`guard.py`), negotiates the media type, and runs only the
canonical text on its own in-memory copy of the store; if it is not done within the time limit it is
killed and replaced, and the client gets a clean error status while the other workers, and the rest
of the API, keep serving. Results are capped in rows and bytes: a result over a cap is an error,
never a 200 cut short.

Each worker, before it loads the store:
- leaves the network: it moves into a fresh network namespace with no interface (`unshare`), so that
  even a SERVICE the guards missed cannot connect anywhere (refusal in depth; when the kernel refuses
  both a plain and a user-namespaced unshare, one warning is logged and the guards still hold);
- lowers its scheduling priority (nice 10), so that a runaway query slows the rest of the service
  as little as the machine allows;
- caps its address space (RLIMIT_AS, `CONNECTKB_SPARQL_WORKER_MEMORY_MB`, default 1024): a worker
  whose query would need more (a CONCAT doubling) dies alone and is replaced. A worker's address space
  is ~75 MB at rest and peaks at ~270 MB while it bulk-loads the KB, so the default leaves a normal
  query, and a result at the byte cap, several times what they use.

The store is handed to each worker as N-Quads bytes and loaded into an in-memory store (~0.1 s for
the KB's 18k triples; a worker is ready ~0.7 s after it is spawned): nothing is written to disk, so
nothing is left behind on shutdown, and the memory cap is predictable. A pool without a store runs
its workers in check-only mode, for an external SPARQL server (`service.py`).

In front of the workers is a bounded wait: at most `max_waiting` requests wait, each at most
`wait_s`, for a free worker; any more are answered 503 at once, so a burst of runaways cannot make
the service hang.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import multiprocessing as mp
import os
import resource
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import pyoxigraph as ox

from .errors import QueryFailed, Refused
from .guard import CheckedQuery, check_cached
from .media import GRAPH_FORMATS, RESULT_FORMATS, choose_media

__all__ = ["GRAPH_FORMATS", "RESULT_FORMATS", "CheckedRequest", "QueryAnswer", "QueryFailed", "QueryPool",
           "QueryRequest", "execute", "isolate_network"]

log = logging.getLogger(__name__)
DEFAULT_MEMORY_MB = 1024
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000


@dataclass(frozen=True)
class QueryRequest:
    """A request as the client sent it: the worker canonicalizes and checks it."""
    text: str
    accept: str | None
    default_graphs: list[str]
    named_graphs: list[str]
    max_rows: int
    max_bytes: int
    base_iri: str | None = None  # relative IRIs in the query resolve against the request URL


@dataclass(frozen=True)
class QueryAnswer:
    body: bytes
    media_type: str


@dataclass(frozen=True)
class CheckedRequest:
    """What a check-only worker answers: the canonical query to forward, and the media type to ask for."""
    query: CheckedQuery
    media_type: str


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


def _store_error(exc: Exception) -> QueryFailed:
    """Oxigraph's own message (its syntax errors give a position), on one line and short; never a trace."""
    first = (str(exc).strip().splitlines() or ["no detail"])[0]
    return QueryFailed(400, f"the query could not be evaluated: {first[:300]}")


def execute(store: ox.Store, checked: CheckedQuery, media_type: str, request: QueryRequest) -> bytes:
    """Run one checked query on `store` and serialize it, within the row and byte caps."""
    kwargs: dict[str, Any] = {"base_iri": request.base_iri} if request.base_iri else {}
    if checked.dataset_from_protocol and checked.default_graphs:
        kwargs["default_graph"] = [ox.NamedNode(g) for g in checked.default_graphs]
    if checked.dataset_from_protocol and checked.named_graphs:
        kwargs["named_graphs"] = [ox.NamedNode(g) for g in checked.named_graphs]
        kwargs.setdefault("default_graph", [])  # named graphs alone: the default graph is empty (SPARQL 1.1 §13.2)

    def run() -> Any:
        try:
            return store.query(checked.text, **kwargs)
        except (SyntaxError, ValueError, OSError) as exc:
            raise _store_error(exc) from None

    # A first pass counts up to the row cap (iterators stop early); a second pass serializes with the
    # store's own serializer, so every format is exactly as the store writes it.
    result = run()
    if isinstance(result, ox.QueryBoolean):
        out = _CappedBuffer(request.max_bytes)
        result_format = RESULT_FORMATS[media_type]
        if result_format in (ox.QueryResultsFormat.CSV, ox.QueryResultsFormat.TSV):
            raise QueryFailed(406, "ASK results have no CSV or TSV form; ask for JSON or XML")
        result.serialize(out, format=result_format)
        return bytes(out.buffer)
    try:
        for count, _ in enumerate(result, 1):
            if count > request.max_rows:
                noun = "rows" if isinstance(result, ox.QuerySolutions) else "triples"
                raise QueryFailed(400, f"the result has more than {request.max_rows} {noun}, this endpoint's cap: "
                                       "narrow the query or add a LIMIT")
        result = run()
        out = _CappedBuffer(request.max_bytes)
        if isinstance(result, ox.QuerySolutions):
            result.serialize(out, format=RESULT_FORMATS[media_type])
        else:
            ox.serialize(result, out, format=GRAPH_FORMATS[media_type])
    except OverflowError:
        raise QueryFailed(400, f"the result is larger than {request.max_bytes} bytes, this endpoint's cap: "
                               "narrow the query or add a LIMIT") from None
    except (SyntaxError, ValueError, OSError) as exc:  # evaluation errors surface while iterating
        raise _store_error(exc) from None
    return bytes(out.buffer)


def isolate_network() -> str | None:
    """Move this process into a new network namespace without interfaces; None on success, else why not.
    Called while the process is still single-threaded (a user namespace requires it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    reasons = []
    attempts = ((_CLONE_NEWNET, "CLONE_NEWNET"), (_CLONE_NEWUSER | _CLONE_NEWNET, "CLONE_NEWUSER|CLONE_NEWNET"))
    for flags, name in attempts:
        if libc.unshare(flags) == 0:
            return None
        reasons.append(f"unshare({name}): {os.strerror(ctypes.get_errno())}")
    return "; ".join(reasons)


WORKER_NICENESS = 10


def _cap_memory(memory_mb: int) -> None:
    if memory_mb > 0:
        limit = memory_mb << 20
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def _handle(store: ox.Store | None, allowed: frozenset[str], request: QueryRequest) -> QueryAnswer | CheckedRequest:
    checked = check_cached(request.text, tuple(request.default_graphs), tuple(request.named_graphs), allowed,
                           request.base_iri)
    media = choose_media(checked.form, request.accept)
    if store is None:
        return CheckedRequest(checked, media)
    return QueryAnswer(execute(store, checked, media, request), media)


def _worker_main(nquads: bytes | None, allowed: frozenset[str], memory_mb: int, connection: Connection) -> None:
    isolation = isolate_network()
    _cap_memory(memory_mb)
    # a runaway burns a whole core until its time limit; at a lower priority it takes only what the API
    # process (health, evaluation, the other queries) leaves over
    os.nice(WORKER_NICENESS)
    store = None
    if nquads is not None:
        store = ox.Store()
        store.bulk_load(nquads, format=ox.RdfFormat.N_QUADS)
        del nquads
    connection.send(("ready", isolation))
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        retire = False
        try:
            reply: tuple[Any, ...] = ("ok", _handle(store, allowed, request))
        except (Refused, QueryFailed) as exc:
            reply = ("error", exc.status, exc.message, False)
        except MemoryError:
            retire = True
            reply = ("error", 503, f"the query needed more memory than a worker may use ({memory_mb} MB)", retire)
        except Exception:
            log.exception("a SPARQL worker failed on a query")  # the detail goes to the log, not to the client
            reply = ("error", 500, "the query could not be evaluated: internal error", False)
        except BaseException as exc:  # pyo3's PanicException: the engine itself failed
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            retire = True
            reply = ("error", 500, "the query could not be evaluated: the store's engine failed on it", retire)
        connection.send(reply)
        if retire:  # a worker whose engine panicked or ran out of memory is not trusted with more
            return


class _Worker:
    def __init__(self, context: Any, nquads: bytes | None, allowed: frozenset[str], memory_mb: int):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(nquads, allowed, memory_mb, child), daemon=True)
        self.process.start()
        child.close()
        self.isolation: str | None = None

    def wait_ready(self, timeout: float) -> bool:
        try:
            if not self.connection.poll(timeout):
                return False
            message = self.connection.recv()
        except (EOFError, OSError):
            return False
        if message[0] != "ready":
            return False
        self.isolation = message[1]
        return True

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.join(timeout=5)
        with contextlib.suppress(Exception):
            self.connection.close()


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


class QueryPool:
    """A few killable workers that check SPARQL requests and run them on in-memory copies of a store
    (or, with no store, only check them), behind a bounded wait."""

    def __init__(self, store: ox.Store | None, workers: int = 2, timeout_s: float = 10.0, *,
                 allowed_graphs: set[str] | None = None, memory_mb: int | None = None,
                 max_waiting: int | None = None, wait_s: float | None = None):
        self.timeout_s = timeout_s
        self.memory_mb = _env_int("CONNECTKB_SPARQL_WORKER_MEMORY_MB", DEFAULT_MEMORY_MB) if memory_mb is None \
            else memory_mb
        self.max_waiting = _env_int("CONNECTKB_SPARQL_MAX_WAITING", 8 * workers) if max_waiting is None \
            else max_waiting
        self.wait_s = float(os.environ.get("CONNECTKB_SPARQL_WAIT_S", "3")) if wait_s is None else wait_s
        self.capacity = workers + self.max_waiting  # requests running or waiting at once
        if store is not None:
            self._nquads: bytes | None = store.dump(format=ox.RdfFormat.N_QUADS)
            names = {g.value for g in store.named_graphs() if isinstance(g, ox.NamedNode)}
        else:
            self._nquads = None
            names = set()
        self._allowed = frozenset(names if allowed_graphs is None else allowed_graphs)
        self._context = mp.get_context("spawn")
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._waiting = 0
        self._closed = False
        self._warned = False
        started = [self._start() for _ in range(workers)]
        for worker in started:  # the workers load in parallel; each is handed out once it is ready
            self._admit(worker)

    @property
    def network_isolated(self) -> bool:
        with self._cond:
            return bool(self._all) and all(w.isolation is None for w in self._all)

    def pids(self) -> list[int]:
        """The process ids of the workers now started (for operators and tests)."""
        with self._cond:
            return [w.process.pid for w in self._all if w.process.pid is not None]

    def _start(self) -> _Worker:
        worker = _Worker(self._context, self._nquads, self._allowed, self.memory_mb)
        with self._cond:
            self._all.append(worker)
        return worker

    def _admit(self, worker: _Worker) -> None:
        """Hand a worker out only once it has loaded the store, so that its start-up never counts
        against a query's time limit."""
        ready = worker.wait_ready(120)
        with self._cond:
            if ready and not self._closed:
                if worker.isolation is not None and not self._warned:
                    self._warned = True
                    log.warning("SPARQL workers keep network access (%s); the query guards still refuse SERVICE",
                                worker.isolation)
                self._idle.append(worker)
                self._cond.notify()
                return
            if worker in self._all:
                self._all.remove(worker)
        worker.kill()

    def _acquire(self) -> _Worker:
        with self._cond:
            if self._closed:
                raise QueryFailed(503, "the SPARQL service is shutting down")
            if not self._idle and self._waiting >= self.max_waiting:
                raise QueryFailed(503, "every query worker is busy and the queue is full; try again shortly")
            self._waiting += 1
            try:
                ready = self._cond.wait_for(lambda: self._idle or self._closed, timeout=self.wait_s)
            finally:
                self._waiting -= 1
            if self._closed:
                raise QueryFailed(503, "the SPARQL service is shutting down")
            if not ready:
                raise QueryFailed(503, f"every query worker stayed busy for {self.wait_s:g} s; try again shortly")
            return self._idle.pop()

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            if not self._closed:
                self._idle.append(worker)
                self._cond.notify()
                return
        worker.kill()

    def _retire(self, worker: _Worker) -> None:
        """Kill a worker and start its replacement in the background: the caller answers at once."""
        worker.kill()
        with self._cond:
            if worker in self._all:
                self._all.remove(worker)
            if self._closed:
                return
        threading.Thread(target=lambda: self._admit(self._start()), daemon=True).start()

    def _died(self, worker: _Worker) -> QueryFailed:
        with contextlib.suppress(Exception):
            worker.process.join(timeout=1)
        if self._closed:
            return QueryFailed(503, "the SPARQL service is shutting down")
        if worker.process.exitcode == -signal.SIGABRT:  # the engine could not allocate under the memory cap
            return QueryFailed(503, f"the query needed more memory than a worker may use ({self.memory_mb} MB)")
        return QueryFailed(503, "the query worker failed; try again")

    def _call(self, request: QueryRequest) -> Any:
        worker = self._acquire()
        try:
            worker.connection.send(request)
            if not worker.connection.poll(self.timeout_s):
                raise QueryFailed(503, f"the query was stopped after {self.timeout_s:g} s, this endpoint's time "
                                       "limit; narrow it or add a LIMIT")
            reply = worker.connection.recv()
        except (EOFError, OSError):
            failure = self._died(worker)
            self._retire(worker)
            raise failure from None
        except QueryFailed:
            self._retire(worker)
            raise
        if reply[0] == "ok":
            self._release(worker)
            return reply[1]
        _, status, message, retire = reply
        if retire:  # the worker has exited after replying
            self._retire(worker)
        else:
            self._release(worker)
        raise QueryFailed(status, message)

    def run(self, request: QueryRequest) -> QueryAnswer:
        """Check and run a request; raise QueryFailed (or its status) otherwise."""
        if self._nquads is None:
            raise TypeError("this pool has no store: use check()")
        answer: QueryAnswer = self._call(request)
        return answer

    def check(self, request: QueryRequest) -> CheckedRequest:
        """Check a request only: the canonical query, for a store outside this process to run."""
        checked: CheckedRequest = self._call(request)
        return checked

    def close(self) -> None:
        """Kill every worker now, busy or not: requests still waiting or running answer 503."""
        with self._cond:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._cond.notify_all()
        for worker in workers:
            worker.kill()
