"""What engines need of a store: SPARQL in, SPARQL 1.1 JSON-results rows out, so the embedded Oxigraph
store and an external SPARQL endpoint are interchangeable.

Values that vary per request (an entity's IRI, a language) never enter the query text: they travel as
`bindings`, RDF terms built (and so validated) by pyoxigraph. Write such queries so that each bound
variable is projected and joins in a top-level pattern: the embedded store substitutes it before
evaluation (SEP-0007, which Oxigraph applies to projected variables only), an external server gets a
trailing VALUES row, and the two agree only when the variable constrains the query at the top.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef

Row = dict[str, dict[str, str]]
Term = ox.NamedNode | ox.Literal
Bindings = Mapping[str, Term]

_VARIABLE_NAME = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"


class SparqlBackend(Protocol):
    def select(self, query: str, bindings: Bindings | None = None) -> list[Row]: ...

    def ask(self, query: str, bindings: Bindings | None = None) -> bool: ...


def _variable(name: str) -> str:
    # names are the engines' own, but a bad one would still reach the query text: refuse it
    if not name or any(ch not in _VARIABLE_NAME for ch in name):
        raise ValueError(f"not a SPARQL variable name: {name!r}")
    return name


def term_text(term: Term) -> str:
    """A term in SPARQL syntax, as pyoxigraph serializes it: the only way a value reaches query text."""
    if not isinstance(term, ox.NamedNode | ox.Literal):
        raise TypeError(f"bindings take pyoxigraph NamedNode or Literal terms, not {type(term).__name__}")
    return str(term)


def values_clause(bindings: Bindings) -> str:
    """`VALUES (?a ?b) { (<…> "…") }`: one solution row, each term serialized by pyoxigraph."""
    names = [_variable(name) for name in bindings]
    return (f"\nVALUES ({' '.join('?' + n for n in names)}) "
            f"{{ ({' '.join(term_text(bindings[n]) for n in names)}) }}")


def values_block(variable: str, terms: Iterable[Term]) -> str:
    """`VALUES ?v { <…> <…> }` for a set of terms (e.g. the citations an answer shows), serialized by
    pyoxigraph from term objects, never from raw text."""
    return f"VALUES ?{_variable(variable)} {{ {' '.join(term_text(t) for t in terms)} }}"


def substitutions(bindings: Bindings | None) -> dict[ox.Variable, Term] | None:
    if not bindings:
        return None
    for term in bindings.values():
        term_text(term)  # type check
    return {ox.Variable(_variable(name)): term for name, term in bindings.items()}


def term_to_json(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> dict[str, str]:
    """A term in the SPARQL 1.1 Query Results JSON shape."""
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            out["datatype"] = term.datatype.value
        return out
    raise TypeError(f"unsupported term {term!r}")


def rdflib_term(value: dict[str, str]) -> URIRef | BNode | Literal:
    """A SPARQL JSON-results term as an rdflib term."""
    if value["type"] == "uri":
        return URIRef(value["value"])
    if value["type"] == "bnode":
        return BNode(value["value"])
    if "xml:lang" in value:
        return Literal(value["value"], lang=value["xml:lang"])
    return Literal(value["value"], datatype=URIRef(value["datatype"]) if "datatype" in value else None)
