"""Turtle → validated store: the one way the KB gets into the service."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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
    `meanwhile(store)` runs on the parsed store while the SHACL checks run in another thread (pyshacl-turbo
    and Oxigraph do most of their work without the GIL); what it returns or raises is `CheckedKB.meanwhile`."""
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
        with ThreadPoolExecutor(max_workers=1) as pool:
            checking = pool.submit(_shacl, store, root, timings)
            try:
                outcome.set_result(meanwhile(store))
            except Exception as exc:
                outcome.set_exception(exc)
            report = checking.result()
    seeds = (seeds or paths.seeds_dir()) if check_quotes else None
    if seeds is not None:
        checked, problems = quotes.check_quotes(store, seeds)
        report.quotes_checked = checked
        report.quote_problems = [str(p) for p in problems]
    return CheckedKB(parsed=parsed, store=store, report=report, timings=timings, meanwhile=outcome)


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
