"""Turtle → validated store: the one way the KB gets into the service."""

from __future__ import annotations

import contextlib
import os
import pickle
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from ..common import paths
from ..common.backend import SparqlBackend
from ..common.namespaces import sparql_prologue
from . import quotes
from .integrity import IntegrityReport, load_shapes, validate_store
from .loader import ParsedKB, parse_files
from .stores import EmbeddedStore, RemoteStore, RemoteStoreError


class KBInvalid(Exception):
    """The KB does not pass its integrity checks; str() is the readable report."""

    def __init__(self, report: IntegrityReport):
        super().__init__(report.text)
        self.report = report


@dataclass
class CheckedKB:
    parsed: ParsedKB
    store: ox.Store
    report: IntegrityReport
    timings: dict[str, float] = field(default_factory=dict)
    meanwhile: Future[Any] | None = None  # the outcome of check()'s `meanwhile`


@dataclass
class LoadedKB:
    backend: SparqlBackend
    report: IntegrityReport
    triple_count: int
    release: str | None
    timings: dict[str, float]


def check(root: Path | None = None, seeds: Path | None = None, parsed: ParsedKB | None = None,
          check_quotes: bool = True, meanwhile: Callable[[ox.Store], Any] | None = None) -> CheckedKB:
    """Parse and validate the KB: SHACL integrity plus, where the seeds are at hand (and `check_quotes`),
    their quotes. `parsed` validates triples already read (e.g. from an external store) instead of the Turtle.
    `meanwhile(store)` runs on the parsed store while the SHACL checks run beside it: in a forked process
    where the platform forks (in a thread, the checks' Python parts took the GIL from it: `connectkb
    validate` took ~0.1 s longer, median of 12), else in a thread. What it returns or raises is
    `CheckedKB.meanwhile`."""
    root = root or paths.data_root()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    parsed = parsed or parse_files(paths.turtle_files(root))
    store = parsed.to_oxigraph()
    timings["parse_s"] = time.perf_counter() - t0
    outcome: Future[Any] | None = None
    if meanwhile is None:
        report = _shacl(store, root, timings)
    else:
        outcome = Future()
        with _beside(_shacl, store, root, timings) as checking:
            try:
                outcome.set_result(meanwhile(store))
            except Exception as exc:
                outcome.set_exception(exc)
            report = checking()
    seeds = (seeds or paths.seeds_dir()) if check_quotes else None
    if seeds is not None:
        checked, problems = quotes.check_quotes(store, seeds)
        report.quotes_checked = checked
        report.quote_problems = [str(p) for p in problems]
    return CheckedKB(parsed=parsed, store=store, report=report, timings=timings, meanwhile=outcome)


@contextmanager
def _beside(run: Callable[[ox.Store, Path, dict[str, float]], IntegrityReport], store: ox.Store, root: Path,
            timings: dict[str, float]) -> Iterator[Callable[[], IntegrityReport]]:
    """`run(store, root, timings)` started beside the caller, which gets a function that waits for its report:
    in a forked child, which reads the parsed store copy-on-write and sends back its report (or exception)
    and timings; in a thread where there is no fork."""
    if not hasattr(os, "fork"):
        with ThreadPoolExecutor(max_workers=1) as pool:
            yield pool.submit(run, store, root, timings).result
        return
    readable, writable = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code, nor runs its exit handlers
        code = 0
        try:
            os.close(readable)
            child_timings: dict[str, float] = {}
            try:
                payload: tuple[Any, ...] = (run(store, root, child_timings), None, child_timings)
            except Exception as exc:
                payload = (None, exc, child_timings)
            with os.fdopen(writable, "wb") as out:
                pickle.dump(payload, out)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(writable)
    outcome: Future[IntegrityReport] = Future()

    def wait() -> IntegrityReport:
        if not outcome.done():  # the child may block on a full pipe until its report is read here
            try:
                with os.fdopen(readable, "rb") as child:
                    report, error, child_timings = pickle.load(child)
            except (EOFError, pickle.UnpicklingError) as exc:
                outcome.set_exception(RuntimeError(f"the integrity checks' process ended without a report: {exc}"))
            else:
                timings.update(child_timings)
                if error is not None:
                    outcome.set_exception(error)
                else:
                    outcome.set_result(report)
            finally:
                os.waitpid(pid, 0)
        return outcome.result()

    try:
        yield wait
    finally:
        with contextlib.suppress(Exception):
            wait()  # reaps the child if the caller left without its report


def _shacl(store: ox.Store, root: Path, timings: dict[str, float]) -> IntegrityReport:
    t0 = time.perf_counter()
    report = validate_store(store, load_shapes(paths.shapes_files(root)))
    timings["shacl_s"] = time.perf_counter() - t0
    return report


STORE_ENV = "CONNECTKB_STORE"


def load(root: Path | None = None, seeds: Path | None = None, store_url: str | None = None) -> LoadedKB:
    """Check the KB and load it into the embedded store; refuse (KBInvalid) if it does not conform.
    With an external SPARQL endpoint (CONNECTKB_STORE), read and validate what that store holds."""
    url = store_url or os.environ.get(STORE_ENV)
    if url:
        return _load_remote(url, root, seeds)
    t0 = time.perf_counter()
    checked = check(root, seeds)
    if not checked.report.ok:
        raise KBInvalid(checked.report)
    backend = EmbeddedStore(checked.store)
    timings = {**checked.timings, "total_s": time.perf_counter() - t0}
    return LoadedKB(backend=backend, report=checked.report, triple_count=len(checked.store),
                    release=current_release(backend), timings=timings)


def current_release(backend: SparqlBackend) -> str | None:
    rows = backend.select(sparql_prologue() + "SELECT ?r WHERE { kb:dataset ck:release ?r } LIMIT 1")
    return rows[0]["r"]["value"] if rows else None


def _load_remote(url: str, root: Path | None, seeds: Path | None) -> LoadedKB:
    """The engines will query the external store; at start-up its content is read once and validated
    like the Turtle, so the service refuses to start on an external store that does not conform."""
    t0 = time.perf_counter()
    backend = RemoteStore(url)
    rows = backend.select("SELECT ?s ?p ?o WHERE { ?s ?p ?o }")
    if not rows:
        raise RemoteStoreError(f"the SPARQL server at {url} holds no triples in its default graph: "
                               "load the KB with `connectkb load --store URL`")
    parsed = ParsedKB(triples=[ox.Triple(_ox(r["s"]), _ox(r["p"]), _ox(r["o"])) for r in rows], files=[])
    checked = check(root, seeds, parsed)
    if not checked.report.ok:
        raise KBInvalid(checked.report)
    timings = {**checked.timings, "total_s": time.perf_counter() - t0}
    return LoadedKB(backend=backend, report=checked.report, triple_count=len(rows), release=current_release(backend),
                    timings=timings)


def _ox(term: dict[str, str]) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    if term["type"] == "uri":
        return ox.NamedNode(term["value"])
    if term["type"] == "bnode":
        return ox.BlankNode(term["value"])
    if "xml:lang" in term:
        return ox.Literal(term["value"], language=term["xml:lang"])
    return ox.Literal(term["value"], datatype=ox.NamedNode(term["datatype"]) if "datatype" in term else None)


def load_into(store_url: str, graph_store_url: str | None = None, root: Path | None = None) -> int:
    """Validate the KB and replace the default graph of an external store with it (Graph Store
    Protocol PUT); returns the number of triples loaded."""
    import httpx

    checked = check(root)
    if not checked.report.ok:
        raise KBInvalid(checked.report)
    target = graph_store_url or store_url.rsplit("/", 1)[0] + "/store"
    body = ox.serialize(checked.parsed.triples, format=ox.RdfFormat.N_TRIPLES)
    response = httpx.put(f"{target}?default", content=body, headers={"Content-Type": "application/n-triples"},
                         timeout=300)
    if response.status_code not in (200, 201, 204):
        raise RemoteStoreError(f"the graph store at {target} answered {response.status_code}: {response.text[:500]}")
    return len(checked.parsed.triples)
