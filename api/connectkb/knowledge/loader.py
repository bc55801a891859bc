"""Parses the ontology and KB Turtle once into both an Oxigraph store and an rdflib graph.

Oxigraph answers queries; pySHACL needs rdflib. Parsing once with Oxigraph's fast parser and
copying the triples into rdflib is cheaper than parsing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node


class KBSyntaxError(Exception):
    """A Turtle file of the KB cannot be parsed; the message names the file and position."""


@dataclass
class ParsedKB:
    triples: list[ox.Triple]
    files: list[Path]
    quads: list[ox.Quad] | None = None  # the triples as parsed, in the default graph: loaded as they are

    def to_rdflib(self) -> Graph:
        graph = Graph()
        add = graph.add
        for t in self.triples:
            add((_to_rdflib(t.subject), _to_rdflib(t.predicate), _to_rdflib(t.object)))
        return graph

    def to_oxigraph(self) -> ox.Store:
        store = ox.Store()
        store.bulk_extend(self.quads if self.quads is not None else
                          (ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in self.triples))
        return store


def parse_files(files: list[Path]) -> ParsedKB:
    quads: list[ox.Quad] = []
    for path in files:
        try:
            quads.extend(ox.parse(path=path, format=ox.RdfFormat.TURTLE, rename_blank_nodes=True))
        except SyntaxError as exc:
            raise KBSyntaxError(f"{path}: {exc}") from exc
    return ParsedKB(triples=[quad.triple for quad in quads], files=files, quads=quads)


def to_oxigraph_quad(triple: tuple[Node, Node, Node]) -> ox.Quad:
    s, p, o = (to_oxigraph(t) for t in triple)
    return ox.Quad(s, p, o, ox.DefaultGraph())  # type: ignore[arg-type]


def to_oxigraph(term: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)) if term.datatype else None)
    raise TypeError(f"unsupported term {term!r}")


def _to_rdflib(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> Node:
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        return Literal(term.value, datatype=URIRef(term.datatype.value))
    raise TypeError(f"RDF-star triple terms are not used in the KB: {term}")
