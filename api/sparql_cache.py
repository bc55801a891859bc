"""Reuse what pySHACL and rdflib derive from a SHACL-SPARQL constraint's text across runs.

pySHACL hands rdflib the text of each constraint on every validation, and rdflib re-parses it with
pyparsing each time: measured here at ~85 % of an evaluation's cost. pySHACL also re-runs its
regex sanity checks on the same text. The shapes are fixed once loaded, so the translated query
algebra is cached by its text, base and namespaces (rdflib's prepared queries are reused the same
way), and a text that passed the sanity checks is not checked again.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pyshacl.helper.sparql_query_helper import SPARQLQueryHelper
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


_original_check = SPARQLQueryHelper.check_invalid_sparql
_checked: set[tuple[str, bool, tuple[str, ...]]] = set()


def _cached_check(self: SPARQLQueryHelper, sparql_text: str, valuenode: Any = None, extravars: Any = None) -> bool:
    key = (sparql_text, valuenode is not None, tuple(sorted(extravars or ())))
    if key not in _checked:
        _original_check(self, sparql_text, valuenode=valuenode, extravars=extravars)  # raises if invalid
        _checked.add(key)
    return True


def install() -> None:
    processor.SPARQLProcessor.query = _cached_query  # type: ignore[method-assign]
    SPARQLQueryHelper.check_invalid_sparql = _cached_check  # type: ignore[method-assign]
