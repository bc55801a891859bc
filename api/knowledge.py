"""Turtle → validated store: the one way the KB gets into the service."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph

from . import paths, quotes
from .integrity import IntegrityReport, load_shapes, validate_graph
from .loader import ParsedKB, parse_files
from .namespaces import sparql_prologue
from .store import EmbeddedStore, SparqlBackend


class KBInvalid(Exception):
    """The KB does not pass its integrity checks; str() is the readable report."""

    def __init__(self, report: IntegrityReport):
        super().__init__(report.text)
        self.report = report


@dataclass
class CheckedKB:
    parsed: ParsedKB
    graph: Graph
    store: ox.Store
    report: IntegrityReport
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class LoadedKB:
    backend: SparqlBackend
    report: IntegrityReport
    triple_count: int
    release: str | None
    timings: dict[str, float]


def check(root: Path | None = None, seeds: Path | None = None) -> CheckedKB:
    """Parse and validate the KB: SHACL integrity plus, where the seeds are at hand, their quotes."""
    root = root or paths.data_root()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    parsed = parse_files(paths.turtle_files(root))
    graph = parsed.to_rdflib()
    store = parsed.to_oxigraph()
    timings["parse_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = validate_graph(graph, load_shapes(paths.shapes_files(root)), store)
    timings["shacl_s"] = time.perf_counter() - t0
    seeds = seeds or paths.seeds_dir()
    if seeds is not None:
        checked, problems = quotes.check_quotes(graph, seeds)
        report.quotes_checked = checked
        report.quote_problems = [str(p) for p in problems]
    return CheckedKB(parsed=parsed, graph=graph, store=store, report=report, timings=timings)


def load(root: Path | None = None, seeds: Path | None = None) -> LoadedKB:
    """Check the KB and load it into the embedded store; refuse (KBInvalid) if it does not conform."""
    t0 = time.perf_counter()
    checked = check(root, seeds)
    if not checked.report.ok:
        raise KBInvalid(checked.report)
    backend = EmbeddedStore(checked.store)
    timings = {**checked.timings, "total_s": time.perf_counter() - t0}
    return LoadedKB(backend=backend, report=checked.report, triple_count=len(checked.parsed.triples),
                    release=current_release(backend), timings=timings)


def current_release(backend: SparqlBackend) -> str | None:
    rows = backend.select(sparql_prologue() + "SELECT ?r WHERE { kb:dataset ck:release ?r } LIMIT 1")
    return rows[0]["r"]["value"] if rows else None
