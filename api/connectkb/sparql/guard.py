"""Check every SPARQL request before it reaches a store, and refuse what a read-only public endpoint
must never run: updates (LOAD included), SERVICE (outbound requests), and FROM / FROM NAMED or
dataset parameters naming anything but the store's own graphs (rdflib's engine, for one, reads
`FROM <file:///…>` from local disk).

What is checked is exactly what runs: the query is first rewritten into its canonical text
(`canonical.py`), the checks run on that text, and `CheckedQuery.text` — the canonical text — is the
only text a worker executes. SERVICE is refused twice, independently: by a scan of the canonical
token stream, and in rdflib's parse tree of the canonical text.

This runs inside the query workers (`pool.py`), each process with its own rdflib, so that there is no
process-wide parser lock and a slow parse counts against the worker's time limit.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from pyparsing import ParseBaseException, ParseResults
from rdflib.plugins.sparql.algebra import translatePrologue
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue

from ..common.lru import ByteBoundedLRU
from .canonical import canonicalize, refuse_service_keyword
from .errors import Refused

__all__ = ["QUERY_FORMS", "CheckedQuery", "Refused", "check", "check_cached"]

QUERY_FORMS = {"SelectQuery": "SELECT", "AskQuery": "ASK", "ConstructQuery": "CONSTRUCT", "DescribeQuery": "DESCRIBE"}


@dataclass(frozen=True)
class CheckedQuery:
    text: str  # the canonical text: the only text that may run
    form: str  # SELECT, ASK, CONSTRUCT or DESCRIBE
    default_graphs: list[str] = field(default_factory=list)  # protocol default-graph-uri or FROM
    named_graphs: list[str] = field(default_factory=list)  # protocol named-graph-uri or FROM NAMED
    dataset_from_protocol: bool = False


def _walk(node: object) -> list[CompValue]:
    found: list[CompValue] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, CompValue):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, ParseResults)):
            stack.extend(item)
    return found


def _syntax_error(text: str, error: Exception) -> Refused:
    """A parse failure as a client can use it: where, and what is there; never the parser's internals."""
    if isinstance(error, ParseBaseException):
        near = text[error.loc:error.loc + 30].split("\n")[0]
        where = f" at line {error.lineno}, column {error.col}" + (f", near '{near}'" if near else ", at its end")
    else:
        where = ""
    return Refused(400, f"the query does not parse as SPARQL 1.1{where} "
                        "(positions count in the query with its comments removed)")


def check(text: str, default_graphs: list[str], named_graphs: list[str], allowed_graphs: set[str],
          base_iri: str | None = None) -> CheckedQuery:
    """Canonicalize `text`, parse it and check it against the guards; raise Refused with a 4xx status
    otherwise."""
    canonical = canonicalize(text)
    refuse_service_keyword(canonical)
    try:
        parsed = parseQuery(canonical.text)
    except Exception as query_error:
        try:
            parseUpdate(canonical.text)
        except Exception:
            raise _syntax_error(canonical.text, query_error) from None
        raise Refused(403, "this endpoint is read-only: SPARQL updates (INSERT, DELETE, LOAD, CLEAR, "
                           "CREATE, DROP, COPY, MOVE, ADD) are refused") from None
    if any(node.name == "ServiceGraphPattern" for node in _walk(parsed)):
        raise Refused(403, "SERVICE is refused: this endpoint makes no outbound requests")
    query = parsed[1]
    clauses = list(getattr(query, "datasetClause", None) or [])
    # CompValue.get() answers the key itself for a missing key, so membership is tested with `in`
    # (`.get("default")` on a FROM NAMED clause is the string "default", which once read as `<None>`)
    try:
        prologue = translatePrologue(parsed[0], base_iri)
        from_default = [str(prologue.absolutize(c["default"])) for c in clauses if "default" in c]
        from_named = [str(prologue.absolutize(c["named"])) for c in clauses if "named" in c]
    except Exception:
        raise Refused(400, "the query's FROM or FROM NAMED uses a prefix it does not declare") from None
    if (default_graphs or named_graphs) and clauses:
        # SPARQL 1.1 Protocol §2.1.4: protocol parameters override FROM / FROM NAMED
        from_default, from_named = [], []
    for iri in [*default_graphs, *named_graphs, *from_default, *from_named]:
        if iri not in allowed_graphs:
            known = ", ".join(sorted(allowed_graphs)) or "none: the knowledge base is in the default graph"
            raise Refused(400, f"the dataset may name only this store's own graphs ({known}); "
                               f"<{iri}> is not one of them")
    return CheckedQuery(text=canonical.text, form=QUERY_FORMS[query.name],
                        default_graphs=default_graphs or from_default, named_graphs=named_graphs or from_named,
                        dataset_from_protocol=bool(default_graphs or named_graphs))


_Key = tuple[str, tuple[str, ...], tuple[str, ...], frozenset[str], str | None]
_Outcome = CheckedQuery | Refused


def _cost(key: _Key, outcome: _Outcome) -> int:
    """What an entry holds in memory, roughly: its strings (query text twice: as sent, canonical)."""
    text = outcome.text if isinstance(outcome, CheckedQuery) else outcome.message
    return 256 + sys.getsizeof(key[0]) + sys.getsizeof(text) + sum(sys.getsizeof(g) for g in (*key[1], *key[2]))


# Per process (each worker has its own): 8 MiB by default, whatever the number or size of the queries.
_CACHE: ByteBoundedLRU[_Key, _Outcome] = ByteBoundedLRU(
    int(os.environ.get("CONNECTKB_SPARQL_GUARD_CACHE_BYTES", 8 << 20)), _cost)


def check_cached(text: str, default_graphs: tuple[str, ...], named_graphs: tuple[str, ...],
                 allowed_graphs: frozenset[str], base_iri: str | None = None) -> CheckedQuery:
    """check(), remembered within a byte bound: clients repeat the same queries, and parsing costs
    ~2 ms. Refusals are remembered too, so a repeated hostile query costs no second parse."""
    key: _Key = (text, default_graphs, named_graphs, allowed_graphs, base_iri)
    outcome = _CACHE.get(key)
    if outcome is None:
        try:
            outcome = check(text, list(default_graphs), list(named_graphs), set(allowed_graphs), base_iri)
        except Refused as refused:
            outcome = refused
        _CACHE.put(key, outcome)
    if isinstance(outcome, Refused):
        raise Refused(outcome.status, outcome.message)
    return outcome
