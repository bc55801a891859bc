"""Evaluation requests posted as RDF (Turtle or JSON-LD) instead of JSON facts.

The graph is read back into the same flat facts a JSON request carries, so that both paths share
one validation. JSON-LD that names a remote @context is refused: the service never fetches URLs.
"""

from __future__ import annotations

import json
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.plugins.parsers.notation3 import BadSyntax

from ..common.namespaces import CK, KB
from .engine import FactError, Rule

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


def _inline_contexts_only(node: Any) -> bool:
    """Every @context is an object or a list of objects (an inline context): what rdflib can expand."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context" and not (isinstance(value, dict) or value is None or (
                    isinstance(value, list) and all(isinstance(v, dict) for v in value))):
                return False
            if not _inline_contexts_only(value):
                return False
    elif isinstance(node, list):
        return all(_inline_contexts_only(v) for v in node)
    return True


def parse_fact_graph(body: bytes, content_type: str) -> Graph:
    """The posted graph, or FactError saying what is wrong with the body in the client's terms (the
    parsers' own exceptions name their internals, e.g. "cannot access local variable 'resources'")."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FactError("body", f"the body is not UTF-8 text (byte {exc.start} cannot be decoded)") from None
    return _parse_turtle(text) if content_type == TURTLE else _parse_json_ld(text)


def _parse_turtle(text: str) -> Graph:
    graph = Graph()
    try:
        graph.parse(data=text, format="turtle")
    except BadSyntax as exc:
        why = " ".join(str(getattr(exc, "_why", "") or "").split())[:200]
        line = getattr(exc, "lines", None)
        where = f" at line {line + 1}" if isinstance(line, int) else ""
        raise FactError("body", f"the body is not valid Turtle{where}" + (f": {why}" if why else "")) from None
    except Exception:  # rdflib's parser fails on some inputs with internal errors (IndexError, …)
        raise FactError("body", "the body is not valid Turtle: expected prefix declarations and statements "
                                "such as '[] ck:asOf \"2000-01-31\"^^xsd:date'") from None
    return graph


def _parse_json_ld(text: str) -> Graph:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FactError("body", f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") \
            from None
    except RecursionError:
        raise FactError("body", "the body nests too deeply to be a fact set") from None
    try:
        remote, inline = _remote_context(document), _inline_contexts_only(document)
    except RecursionError:
        raise FactError("body", "the body nests too deeply to be a fact set") from None
    if remote:
        raise FactError("@context", "remote JSON-LD contexts are not fetched; inline the context")
    if not (isinstance(document, dict) or (isinstance(document, list) and all(isinstance(d, dict)
                                                                              for d in document))):
        raise FactError("body", "a JSON-LD fact set is a JSON object (or an array of objects), "
                                f"not {type(document).__name__ if document is not None else 'null'}")
    if not inline:
        raise FactError("@context", "an inline @context must be a JSON object (or a list of objects)")
    graph = Graph()
    try:
        graph.parse(data=text, format="json-ld")
    except Exception:  # rdflib's JSON-LD processor fails on malformed documents with internal errors
        raise FactError("body", "the body is not JSON-LD that rdflib can expand: check @context, @id, "
                                "@type and @value (see the facts_schema of GET /v1/rules/{id})") from None
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
