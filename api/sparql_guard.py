"""Parse every SPARQL request before it reaches a store, and refuse what a read-only public endpoint
must never run: updates (LOAD included), SERVICE (outbound requests), and FROM / FROM NAMED or
dataset parameters naming anything but the store's own graphs (rdflib's engine, for one, reads
`FROM <file:///…>` from local disk)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache

from pyparsing import ParseResults
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue

QUERY_FORMS = {"SelectQuery": "SELECT", "AskQuery": "ASK", "ConstructQuery": "CONSTRUCT", "DescribeQuery": "DESCRIBE"}
# rdflib parses with pyparsing, which is not thread-safe; requests are parsed one at a time
_PARSE_LOCK = threading.Lock()


class Refused(Exception):
    """A request the endpoint will not run; `status` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class CheckedQuery:
    text: str
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


def check(text: str, default_graphs: list[str], named_graphs: list[str], allowed_graphs: set[str]) -> CheckedQuery:
    """Parse `text` and check it against the guards; raise Refused with a 4xx status otherwise."""
    with _PARSE_LOCK:
        try:
            parsed = parseQuery(text)
        except Exception as query_error:
            try:
                parseUpdate(text)
            except Exception:
                raise Refused(400, f"the query does not parse as SPARQL 1.1: {query_error}") from None
            raise Refused(403, "this endpoint is read-only: SPARQL updates (INSERT, DELETE, LOAD, CLEAR, "
                               "CREATE, DROP, COPY, MOVE, ADD) are refused") from None
        nodes = _walk(parsed)
    query = parsed[1]
    if any(node.name == "ServiceGraphPattern" for node in nodes):
        raise Refused(403, "SERVICE is refused: this endpoint makes no outbound requests")
    clauses = list(getattr(query, "datasetClause", None) or [])
    from_default = [str(c.default) for c in clauses if c.get("default") is not None]
    from_named = [str(c.named) for c in clauses if c.get("named") is not None]
    if (default_graphs or named_graphs) and clauses:
        # SPARQL 1.1 Protocol §2.1.4: protocol parameters override FROM / FROM NAMED
        from_default, from_named = [], []
    for iri in [*default_graphs, *named_graphs, *from_default, *from_named]:
        if iri not in allowed_graphs:
            known = ", ".join(sorted(allowed_graphs)) or "none: the knowledge base is in the default graph"
            raise Refused(400, f"the dataset may name only this store's own graphs ({known}); "
                               f"<{iri}> is not one of them")
    return CheckedQuery(text=text, form=QUERY_FORMS[query.name],
                        default_graphs=default_graphs or from_default, named_graphs=named_graphs or from_named,
                        dataset_from_protocol=bool(default_graphs or named_graphs))


@lru_cache(maxsize=4096)
def check_cached(text: str, default_graphs: tuple[str, ...], named_graphs: tuple[str, ...],
                 allowed_graphs: frozenset[str]) -> CheckedQuery:
    """check(), remembered: clients repeat the same queries, and parsing costs ~2 ms."""
    return check(text, list(default_graphs), list(named_graphs), set(allowed_graphs))
