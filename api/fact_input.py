"""Evaluation requests posted as RDF (Turtle or JSON-LD) instead of JSON facts.

The graph is read back into the same flat facts a JSON request carries, so that both paths share
one validation. JSON-LD that names a remote @context is refused: the service never fetches URLs.
"""

from __future__ import annotations

import json
from typing import Any

from rdflib import Graph, Literal, URIRef

from .namespaces import CK, KB
from .rules import FactError, Rule

TURTLE = "text/turtle"
JSON_LD = "application/ld+json"


def _remote_context(node: Any) -> bool:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context" and (isinstance(value, str) or
                                      (isinstance(value, list) and any(isinstance(v, str) for v in value))):
                return True
            if key == "@import" or _remote_context(value):
                return True
    elif isinstance(node, list):
        return any(_remote_context(v) for v in node)
    return False


def parse_fact_graph(body: bytes, content_type: str) -> Graph:
    graph = Graph()
    try:
        if content_type == TURTLE:
            graph.parse(data=body.decode("utf-8"), format="turtle")
        else:
            document = json.loads(body)
            if _remote_context(document):
                raise FactError("@context", "remote JSON-LD contexts are not fetched; inline the context")
            graph.parse(data=json.dumps(document), format="json-ld")
    except FactError:
        raise
    except Exception as exc:  # rdflib raises many parser-specific types
        raise FactError("body", f"the body is not valid {content_type}: {exc}") from exc
    return graph


def graph_to_facts(graph: Graph, rule: Rule) -> tuple[dict[str, Any], str | None]:
    """The flat facts (and ck:asOf, if given) of the one fact set the graph describes."""
    by_iri = {fact.iri: fact for fact in rule.facts.values()}
    subjects = {s for s, p, _ in graph if str(p) in by_iri or p == CK.asOf}
    if len(subjects) != 1:
        raise FactError("body", f"the graph must describe exactly one fact set using the properties "
                                f"{', '.join(sorted(by_iri))}; found {len(subjects)} subjects")
    subject = subjects.pop()
    facts: dict[str, Any] = {}
    for _, p, o in graph.triples((subject, None, None)):
        fact = by_iri.get(str(p))
        if fact is None:
            continue
        value = _python_value(o, fact.codes)
        if fact.kind == "rating":
            value = next(({"agency": a, "grade": g} for (a, g), iri in fact.grades.items() if iri == str(o)), value)
        elif fact.kind == "iso4217":
            value = str(o).rsplit("/", 1)[-1]
        if fact.multiple:
            facts.setdefault(fact.name, []).append(value)
        else:
            facts[fact.name] = value
    as_of = graph.value(subject, CK.asOf)
    return facts, (str(as_of) if as_of is not None else None)


def _python_value(term: Any, codes: dict[str, str]) -> Any:
    if isinstance(term, URIRef):
        for code, iri in codes.items():
            if iri == str(term):
                return code
        return str(term)[len(str(KB)):] if str(term).startswith(str(KB)) else str(term)
    if isinstance(term, Literal):
        return term.toPython()
    return str(term)
