"""Mutation check of the fact checklists: each ASK of tests/checklist/*.yaml must stop holding once the
statements of the resources it is about are removed from the KB.

An ASK that still holds after its subject's statements are deleted proves nothing about that subject
(issue 14, item 10: two seed-003 entries left ``?s`` unbound and matched any statement of the KB).

How the subjects of an ASK are found. The ASK is parsed with rdflib into its SPARQL algebra and the
triple patterns it *requires* are collected: those of its basic graph patterns, sub-queries and
FILTER EXISTS, but not those under OPTIONAL, MINUS or FILTER NOT EXISTS (their absence cannot make
the ASK false). Then:

1. The subjects it is about are the IRIs it names in subject position of a required pattern
   ("named subjects", e.g. ``kb:s003-generalisation-issue-size``).
2. Every required pattern must be *anchored*: its subject is a named subject, or a variable joined to
   one through a chain of required patterns (joins are made only by variables and named subjects —
   a constant in object position, such as a code-list concept, joins nothing, since any resource may
   carry it). A pattern that is not anchored can be matched by any resource of the KB, so the entry
   fails here, naming the pattern.
3. A sub-query (a count over the listing applicants or the source documents) is its own scope, and
   so is an ASK that names no subject ("some announcement is about this role"): a scope that names
   no subject is about the resources its subject variables bind to. Its required patterns must form
   one connected group, and its subjects are the IRIs those variables take in the KB, found by
   running its required patterns as a SELECT (filters left out, so that no candidate is missed).
4. The statements of those subjects are removed from a copy of the KB (an Oxigraph store parsed from
   the Turtle, separate from the shared fixture) and the ASK must then answer false; they are put back
   before the next entry.

Removing every statement of a subject is the strongest deletion of "its facts"; the anchoring rule
is what makes it meaningful, since an ASK anchored to its subject cannot be satisfied by some other
resource once that subject is gone.
"""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox
import pytest
from rdflib import URIRef, Variable
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.parserutils import CompValue

from connectkb.common import paths
from connectkb.common.namespaces import sparql_prologue
from connectkb.knowledge.loader import parse_files

from .test_fact_checklist import ENTRIES

PROLOGUE = sparql_prologue()


@pytest.fixture(scope="module")
def kb_copy() -> ox.Store:
    """A private copy of the KB graph, which the test mutates and restores entry by entry."""
    return parse_files(paths.turtle_files()).to_oxigraph()


# ---------------------------------------------------------------- required triple patterns
Pattern = tuple[Any, Any, Any]


def _required_patterns(node: Any, scopes: list[list[Pattern]], scope: int) -> None:
    """Collect the required patterns of `node` into scopes[scope]; a sub-query opens a new scope."""
    if isinstance(node, CompValue):
        name = node.name
        if name == "BGP":
            scopes[scope].extend(node.get("triples") or [])
            return
        if name == "ToMultiSet":  # a sub-query: its own scope
            scopes.append([])
            _required_patterns(node.get("p"), scopes, len(scopes) - 1)
            return
        if name == "LeftJoin":  # OPTIONAL: only the left side is required
            _required_patterns(node.get("p1"), scopes, scope)
            _required_patterns(node.get("expr"), scopes, scope)
            return
        if name == "Minus":
            _required_patterns(node.get("p1"), scopes, scope)
            return
        if name == "Builtin_NOTEXISTS":
            return
        for key, value in node.items():
            if key in {"_vars", "PV", "_vars_used"}:
                continue
            _required_patterns(value, scopes, scope)
    elif isinstance(node, (list, tuple)):
        for item in node:
            _required_patterns(item, scopes, scope)


def analyse(ask: str) -> list[tuple[list[Pattern], set[URIRef]]]:
    """Per scope of an ASK (the ASK itself, each sub-query): its required triple patterns and the IRIs
    it names in subject position. Scopes without patterns are left out."""
    query = prepareQuery(PROLOGUE + ask)
    scopes: list[list[Pattern]] = [[]]
    _required_patterns(query.algebra, scopes, 0)
    return [(patterns, {s for s, _, _ in patterns if isinstance(s, URIRef)}) for patterns in scopes if patterns]


def unanchored(patterns: list[Pattern], named: set[URIRef]) -> list[Pattern]:
    """Required patterns not joined to a named subject (or, with none named, not joined to the rest)."""
    nodes: dict[Any, Any] = {}

    def find(x: Any) -> Any:
        nodes.setdefault(x, x)
        while nodes[x] != x:
            nodes[x] = nodes[nodes[x]]
            x = nodes[x]
        return x

    def joins(term: Any) -> bool:
        return isinstance(term, Variable) or term in named

    for s, _, o in patterns:
        if joins(s):
            find(s)
            if joins(o):
                nodes[find(o)] = find(s)
    if named:
        roots = {find(n) for n in named}
    else:
        subjects = [s for s, _, _ in patterns if isinstance(s, Variable)]
        if not subjects:
            return list(patterns)
        roots = {find(subjects[0])}
    return [p for p in patterns if not (joins(p[0]) and find(p[0]) in roots)]


def _n3(term: Any) -> str:
    return str(term.n3())


def bound_subjects(store: ox.Store, patterns: list[Pattern]) -> set[str]:
    """IRIs that the subject variables of the patterns take in the KB (filters left out)."""
    variables = sorted({str(s) for s, _, _ in patterns if isinstance(s, Variable)})
    body = " .\n".join(f"{_n3(s)} {_n3(p)} {_n3(o)}" for s, p, o in patterns)
    query = f"SELECT DISTINCT {' '.join('?' + v for v in variables)} WHERE {{ {body} }}"
    found: set[str] = set()
    for solution in store.query(query):
        for v in variables:
            value = solution[v]
            if isinstance(value, ox.NamedNode):
                found.add(value.value)
    return found


# ---------------------------------------------------------------- the tests
@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_the_ask_is_anchored_to_its_subject(entry: dict[str, Any]) -> None:
    scopes = analyse(entry["ask"])
    assert scopes, f"{entry['id']}: the ASK requires no triple pattern"
    loose = [p for patterns, named in scopes for p in unanchored(patterns, named)]
    assert not loose, (f"{entry['file']} {entry['id']}: patterns not joined to the subject the ASK is about, "
                       f"so any resource can match them: {[' '.join(_n3(t) for t in p) for p in loose]}")


def subjects_of(store: ox.Store, ask: str) -> set[str]:
    """The subjects an ASK is about: per scope, the IRIs it names, else those its subject variables take."""
    found: set[str] = set()
    for patterns, named in analyse(ask):
        found |= {str(s) for s in named} or bound_subjects(store, patterns)
    return found


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_the_ask_fails_once_its_subjects_are_removed(kb_copy: ox.Store, entry: dict[str, Any]) -> None:
    ask = PROLOGUE + entry["ask"]
    assert kb_copy.query(ask), f"{entry['id']}: the ASK does not hold on the KB to begin with"
    subjects = subjects_of(kb_copy, entry["ask"])
    assert subjects, f"{entry['id']}: no subject found"
    removed = [q for s in sorted(subjects) for q in kb_copy.quads_for_pattern(ox.NamedNode(s), None, None)]
    assert removed, f"{entry['id']}: its subjects {sorted(subjects)} have no statements in the KB"
    for quad in removed:
        kb_copy.remove(quad)
    try:
        still = bool(kb_copy.query(ask))
    finally:
        kb_copy.extend(removed)
    assert not still, (f"{entry['file']} {entry['id']}: the ASK still holds with the statements of "
                       f"{sorted(subjects)} removed")


def test_the_mutation_check_covers_every_entry() -> None:
    assert len(ENTRIES) > 500
