"""Facts the KB's code lists imply (ck:FactImplication: an issuer of type central government issues
Chinese government bonds), used where the user left the implied fact out, and said so in the answer,
rather than asked for. The implications are Turtle with their citations; this only applies them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..common.languages import lang_key, pick_label


@dataclass(frozen=True)
class Implication:
    iri: str
    if_fact: str  # JSON names and codes, as the facts carry them
    if_value: str
    then_fact: str
    then_value: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    citation_iris: tuple[str, ...] = ()

    def applies(self, facts: dict[str, Any]) -> bool:
        given = facts.get(self.if_fact)
        holds = given == self.if_value or (isinstance(given, list) and self.if_value in given)
        return holds and facts.get(self.then_fact) is None


@dataclass(frozen=True)
class Derivation:
    implication: Implication
    value: Any  # the value put in the facts (a list for a fact that takes several)

    def as_json(self, citations: Any, lang: str) -> dict[str, Any]:
        imp = self.implication
        return {"fact": imp.then_fact, "value": imp.then_value, "from": {"fact": imp.if_fact, "value": imp.if_value},
                "reason": _pick(imp.labels, lang), "citations": citations(list(imp.citation_iris), lang)}

    def message(self, lang: str) -> str:
        imp = self.implication
        reason = _pick(imp.labels, lang)
        if lang == "en":
            return (f"{imp.then_fact} is not given; the knowledge base takes it as {imp.then_value} "
                    f"from {imp.if_fact} {imp.if_value}: {reason}")
        if lang == "zh-Hant":
            return f"未提供 {imp.then_fact}；知識庫由 {imp.if_fact} {imp.if_value} 推得其為 {imp.then_value}：{reason}"
        return f"未提供 {imp.then_fact}；知识库由 {imp.if_fact} {imp.if_value} 推得其为 {imp.then_value}：{reason}"


def _pick(texts: dict[str, str], lang: str) -> str:
    return pick_label(texts, lang) or ""


def load(select: Any) -> list[Implication]:
    """Every ck:FactImplication of the KB; `select(query)` answers SPARQL rows."""
    rows = select("""SELECT ?i ?if ?ifv ?then ?thenv ?l ?cite WHERE {
        ?i a ck:FactImplication ; ck:ifFact/ck:jsonName ?if ; ck:ifValue/ck:code ?ifv ;
           ck:thenFact/ck:jsonName ?then ; ck:thenValue/ck:code ?thenv .
        { ?i rdfs:label ?l } UNION { ?i ck:citation ?cite } } ORDER BY ?i""")
    found: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = found.setdefault(r["i"]["value"], {"key": (r["if"]["value"], r["ifv"]["value"], r["then"]["value"],
                                                           r["thenv"]["value"]), "labels": {}, "cites": set()})
        if "l" in r:
            entry["labels"].setdefault(lang_key(r["l"].get("xml:lang")) or "en", r["l"]["value"])
        if "cite" in r:
            entry["cites"].add(r["cite"]["value"])
    return [Implication(iri, *e["key"], labels=e["labels"], citation_iris=tuple(sorted(e["cites"])))
            for iri, e in sorted(found.items())]


def derive(implications: list[Implication], facts: dict[str, Any],
           multiple: dict[str, bool]) -> tuple[dict[str, Any], list[Derivation]]:
    """The facts with what the implications add (only facts the rule reads: `multiple` names them), and
    what was added. Given facts are never overridden; one implication's result does not feed another."""
    done: list[Derivation] = []
    out = facts
    for imp in implications:
        if imp.if_fact in multiple and imp.then_fact in multiple and imp.applies(facts) and \
                not any(d.implication.then_fact == imp.then_fact for d in done):
            value = [imp.then_value] if multiple[imp.then_fact] else imp.then_value
            if out is facts:
                out = dict(facts)
            out[imp.then_fact] = value
            done.append(Derivation(imp, value))
    return out, done


__all__ = ["Derivation", "Implication", "derive", "load"]
