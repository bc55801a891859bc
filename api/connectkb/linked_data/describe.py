"""The RDF that linked data serves: the concise bounded description of one IRI, and whole-KB dumps."""

from __future__ import annotations

import os
from collections.abc import Callable

from rdflib import Graph

from ..common.backend import Row, SparqlBackend, rdflib_term
from ..common.ids import iri_node
from ..common.namespaces import BASE, PREFIXES

BASE_ENV = "CONNECTKB_BASE_IRI"
RDF_FORMATS = {"text/turtle": ("turtle", "ttl"), "application/ld+json": ("json-ld", "jsonld"),
               "application/n-triples": ("nt", "nt"), "application/rdf+xml": ("xml", "rdf")}
_DEPTH = 6  # blank-node nesting followed (SHACL property shapes, lists)
MAX_ROWS_ENV = "CONNECTKB_DESCRIBE_MAX_ROWS"
# The KB's largest description is a few hundred statements; the cap keeps a describe, which runs in
# the server process, from ever returning (or building) much more than that.
DEFAULT_MAX_ROWS = 10_000


def _describe_query(depth: int) -> str:
    """One query for the whole description. ?iri is bound (never pasted) and starts every branch, so
    each branch walks down from that one IRI: a tree of blank nodes at most `depth` deep, never a
    join of unrelated statements."""
    patterns = ["{ ?iri ?p ?o BIND(?iri AS ?s) }"]
    chain = "?iri ?p0 ?b0 . FILTER(isBlank(?b0))"
    for level in range(depth):
        patterns.append(f"{{ {chain} ?b{level} ?p ?o BIND(?b{level} AS ?s) }}")
        chain += f" ?b{level} ?p{level + 1} ?b{level + 1} . FILTER(isBlank(?b{level + 1}))"
    return f"SELECT DISTINCT ?iri ?s ?p ?o WHERE {{ {' UNION '.join(patterns)} }}"


_DESCRIBE = _describe_query(_DEPTH)


def max_rows() -> int:
    return int(os.environ.get(MAX_ROWS_ENV, DEFAULT_MAX_ROWS))


def base_iri() -> str:
    """The IRI base the service answers for; the KB's own by default (w3id.org redirects here)."""
    return os.environ.get(BASE_ENV, BASE)


def describe(backend: SparqlBackend, iri: str, limit: int | None = None) -> tuple[Graph, bool]:
    """The concise bounded description of `iri`: its statements and those of the blank nodes they hold,
    at most `limit` statements; and whether the cap cut it short. A malformed IRI is BadIdentifier."""
    cap = limit or max_rows()
    rows: list[Row] = backend.select(_DESCRIBE + f" LIMIT {int(cap) + 1}", {"iri": iri_node(iri)})
    truncated = len(rows) > cap
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    for row in rows[:cap]:
        graph.add((rdflib_term(row["s"]), rdflib_term(row["p"]), rdflib_term(row["o"])))
    return graph, truncated


def dump_maker(backend: SparqlBackend) -> Callable[[str], bytes]:
    """Serialize the whole KB once per format, on first request."""
    cache: dict[str, bytes] = {}

    def make(media: str) -> bytes:
        if media not in cache:
            graph = Graph()
            for prefix, namespace in PREFIXES.items():
                graph.bind(prefix, namespace)
            for row in backend.select("SELECT ?s ?p ?o WHERE { ?s ?p ?o }"):
                graph.add((rdflib_term(row["s"]), rdflib_term(row["p"]), rdflib_term(row["o"])))
            cache[media] = graph.serialize(format=RDF_FORMATS[media][0]).encode("utf-8")
        return cache[media]

    return make
