"""Query backends. Engines speak SPARQL and get SPARQL 1.1 JSON-results rows back, so the embedded
Oxigraph store and an external SPARQL endpoint are interchangeable."""

from __future__ import annotations

from typing import Protocol

import pyoxigraph as ox

Row = dict[str, dict[str, str]]


class SparqlBackend(Protocol):
    def select(self, query: str) -> list[Row]: ...

    def ask(self, query: str) -> bool: ...


class EmbeddedStore:
    """The in-process Oxigraph store (read-only once loaded)."""

    def __init__(self, store: ox.Store):
        self.store = store

    def __len__(self) -> int:
        return len(self.store)

    def select(self, query: str) -> list[Row]:
        solutions = self.store.query(query)
        if not isinstance(solutions, ox.QuerySolutions):
            raise TypeError("select() needs a SELECT query")
        names = [v.value for v in solutions.variables]
        rows: list[Row] = []
        for solution in solutions:
            row: Row = {}
            for name in names:
                term = solution[name]
                if term is not None:
                    row[name] = term_to_json(term)
            rows.append(row)
        return rows

    def ask(self, query: str) -> bool:
        result = self.store.query(query)
        if not isinstance(result, ox.QueryBoolean):
            raise TypeError("ask() needs an ASK query")
        return bool(result)


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
