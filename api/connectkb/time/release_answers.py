"""Answers that changed between two releases: one rule, one or many fact sets, each answered by both
releases' engines; where the answers differ, the statements of the release diff about what the
differing criteria read (their shapes and checks, the arrangements and roles they name, the role
assignments and members those hold) say why."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rdflib import URIRef

from ..common.ids import to_id
from ..rules.engine import FactError, RuleNotFound
from .known_at import Engines, KnownAt
from .releases import ReleaseStore


def criterion_reads(engines: Engines, rule_id: str) -> dict[str, set[str]]:
    """Per criterion id, the ids of the KB entities its answer depends on in these engines' KB."""
    rule = engines.rules.rules.get(rule_id)
    if rule is None:
        return {}
    base, shapes = rule.base, rule.shapes
    out: dict[str, set[str]] = {}
    for c in rule.criteria:
        iris = {c.iri, rule.iri, *c.citation_iris} | {str(n) for n in c.shape_nodes if isinstance(n, URIRef)}
        for node in c.shape_nodes:
            iris |= {str(o) for o in shapes.objects(node) if isinstance(o, URIRef)}
        holders = {str(s) for iri in list(iris) for s in base.subjects(None, URIRef(iri)) if isinstance(s, URIRef)}
        members = {str(o) for s in holders for o in base.objects(URIRef(s)) if isinstance(o, URIRef)}
        out[c.id] = {to_id(i) for i in iris | holders | members}
    return out


def _answer(engines: Engines, rule_id: str, facts: dict[str, Any], as_of: dt.date, lang: str,
            strict: bool = False) -> dict[str, Any]:
    if rule_id not in engines.rules.rules:
        return {"verdict": "no such rule", "criteria": {}, "messages": {}}
    try:
        answer = engines.compiled.evaluate(rule_id, facts, as_of, lang)
    except FactError as exc:
        if strict:
            raise
        return {"verdict": f"malformed fact {exc.field}: {exc.message}", "criteria": {}, "messages": {}}
    return {"verdict": answer["verdict"], "criteria": {c["id"]: c["outcome"] for c in answer["criteria"]},
            "messages": {c["id"]: c["message"] for c in answer["criteria"]}}


def answers_diff(known: KnownAt, releases: ReleaseStore, rule_id: str, fact_sets: list[dict[str, Any]],
                 as_of: dt.date, a: str, b: str, lang: str = "en", strict: bool = False) -> dict[str, Any]:
    """`strict` (one fact set): a fact the later release rejects is the caller's error (FactError, a 422);
    in a screening list, or where only the earlier release rejects it, it is that fact set's answer."""
    old, new = known.get(a, "from"), known.get(b, "to")
    if rule_id not in old.rules.rules and rule_id not in new.rules.rules:
        raise RuleNotFound(rule_id)
    reads_old, reads_new = criterion_reads(old, rule_id), criterion_reads(new, rule_id)
    diff: dict[str, Any] | None = None
    differing = []
    for i, facts in enumerate(fact_sets):
        y = _answer(new, rule_id, facts, as_of, lang, strict)
        x = _answer(old, rule_id, facts, as_of, lang)
        if x["verdict"] == y["verdict"] and x["criteria"] == y["criteria"]:
            continue
        if diff is None:
            diff = releases.diff(old.release or a, new.release or b, lang)
        ids = sorted(set(x["criteria"]) | set(y["criteria"]), key=lambda c: (c not in y["criteria"], c))
        changed = [{"criterion": c, "from": x["criteria"].get(c), "to": y["criteria"].get(c),
                    "message_from": x["messages"].get(c), "message_to": y["messages"].get(c)}
                   for c in ids if x["criteria"].get(c) != y["criteria"].get(c)]
        wanted: set[str] = set()
        for c in changed:
            wanted |= reads_old.get(c["criterion"], set()) | reads_new.get(c["criterion"], set())
        if not changed:  # the verdict moved with no criterion in common (a malformed fact, a missing rule)
            wanted = set().union(*reads_old.values(), *reads_new.values())
        statements = [e for e in diff["entities"] if e["id"] in wanted]
        differing.append({"fact_set": i, "verdicts": {"from": x["verdict"], "to": y["verdict"]},
                          "criteria": changed, "statements": statements})
    def named(engines: Engines) -> dict[str, Any]:
        if rule_id not in engines.rules.rules:
            return {**engines.named(), "engine": None, "engine_reason": f"the release has no rule {rule_id}"}
        serves, reason = engines.compiled.engine_for(rule_id)
        return {**engines.named(), "engine": serves, "engine_reason": reason}

    return {"rule": rule_id, "from": named(old), "to": named(new), "as_of": as_of.isoformat(),
            "fact_sets": len(fact_sets), "differing": differing}
