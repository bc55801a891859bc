"""The RDF that linked data serves: the concise bounded description of one IRI (with the role assignments
naming it as their member), whole-KB dumps, the ontology's modules as documents, and compacted JSON-LD
under the published context."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rdflib import Graph

from ..common.backend import Row, SparqlBackend, rdflib_term
from ..common.ids import iri_node
from ..common.namespaces import BASE, PREFIXES, sparql_prologue
from ..common.paths import data_root

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


_ROLE_ASSIGNMENTS = sparql_prologue() + "SELECT ?iri ?ra WHERE { ?ra org:member ?iri ; a ck:RoleAssignment }"


def _bound_graph() -> Graph:
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return graph


def describe(backend: SparqlBackend, iri: str, limit: int | None = None) -> tuple[Graph, bool]:
    """The concise bounded description of `iri` — its statements and those of the blank nodes they hold —
    and that of each role assignment naming it as member (the roles its HTML page shows; they point at
    it, so a bounded description alone misses them); at most `limit` statements, and whether the cap cut
    it short. A malformed IRI is BadIdentifier."""
    cap = limit or max_rows()
    node = iri_node(iri)
    rows: list[Row] = backend.select(_DESCRIBE + f" LIMIT {int(cap) + 1}", {"iri": node})
    if rows:
        for assignment in backend.select(_ROLE_ASSIGNMENTS, {"iri": node}):
            if len(rows) > cap:
                break
            rows += backend.select(_DESCRIBE + f" LIMIT {int(cap) + 1}", {"iri": iri_node(assignment["ra"]["value"])})
    truncated = len(rows) > cap
    graph = _bound_graph()
    for row in rows[:cap]:
        graph.add((rdflib_term(row["s"]), rdflib_term(row["p"]), rdflib_term(row["o"])))
    return graph, truncated


def jsonld_context() -> dict[str, Any]:
    """The JSON-LD context the service publishes: the KB's prefixes, so that IRIs compact to CURIEs."""
    return {"@context": dict(PREFIXES)}


def serialize(graph: Graph, media: str) -> str:
    """The graph in `media`. JSON-LD comes compacted with the published context (/context.jsonld), carried
    inline: a client then reads it without fetching anything, offline or behind a firewall included."""
    if media != "application/ld+json":
        return graph.serialize(format=RDF_FORMATS[media][0])
    return graph.serialize(format="json-ld", context=jsonld_context()["@context"], auto_compact=True)


def ontology_modules(root: Path | None = None) -> dict[str, Path]:
    """The ontology's modules by the path of their IRI under ontology/: 'core', 'fx', 'shapes/integrity'…"""
    folder = (root or data_root()) / "ontology"
    return {str(p.relative_to(folder).with_suffix("")): p for p in sorted(folder.rglob("*.ttl"))}


def module_graph(paths: list[Path]) -> Graph:
    graph = _bound_graph()
    for path in paths:
        graph.parse(path, format="turtle")
    return graph


def dump_maker(backend: SparqlBackend) -> Callable[[str], bytes]:
    """Serialize the whole KB once per format, on first request."""
    cache: dict[str, bytes] = {}

    def make(media: str) -> bytes:
        if media not in cache:
            graph = _bound_graph()
            for row in backend.select("SELECT ?s ?p ?o WHERE { ?s ?p ?o }"):
                graph.add((rdflib_term(row["s"]), rdflib_term(row["p"]), rdflib_term(row["o"])))
            cache[media] = serialize(graph, media).encode("utf-8")
        return cache[media]

    return make
