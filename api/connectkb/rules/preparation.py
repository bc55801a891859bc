"""Before and after either engine decides: the facts as the rules read them (entity names resolved,
implied facts added) and what the answer says about that (how a name was read, what was derived, the
tier of the sources each outcome rests on). Both engines call these, so their answers stay identical."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..common.ids import MAX_ID_LENGTH
from . import derived
from .names import AmbiguousName, EntityNames, Reading, is_id
from .tiers import SourceTiers, caveat_message


class PreparationError(ValueError):
    """A fact the preparation cannot read; the engine turns it into its FactError."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass
class Prepared:
    facts: dict[str, Any]
    readings: list[Reading] = field(default_factory=list)
    derivations: list[derived.Derivation] = field(default_factory=list)


class Preparation:
    def __init__(self, select: Any, citations: Any, input_facts: dict[str, Any]):
        self.entity_facts = {n: f for n, f in input_facts.items() if f.kind == "entity"}
        classes = {f.entity_class for f in self.entity_facts.values()}
        self.names = EntityNames.from_backend(select, None if None in classes else sorted(classes))
        self.implications = derived.load(select)
        self.tiers = SourceTiers(select, citations)
        self.citations = citations
        self._implies: dict[str, list[derived.Implication]] = {}  # rule id → the implications it reads both facts of
        self._derived_citations: dict[tuple[str, str], list[dict[str, Any]]] = {}

    # ------------------------------------------------------------------ before
    def needs(self, rule: Any, facts: dict[str, Any]) -> bool:
        """Whether `prepare` would change or annotate anything (for bulk screening, which decides on raw
        columns: such fact sets are answered one at a time)."""
        for name in facts.keys() & self.entity_facts.keys():
            values = facts[name] if isinstance(facts[name], list) else [facts[name]]
            fact = self.entity_facts[name]
            try:
                if any(isinstance(v, str) and self._read(fact, v) is not None for v in values):
                    return True
            except PreparationError:
                return True
        return any(i.if_fact in rule.facts and i.then_fact in rule.facts and i.applies(facts)
                   for i in self.implications)

    def _read(self, fact: Any, value: str) -> Reading | None:
        if len(value) > MAX_ID_LENGTH:
            return None  # the engine refuses it, as before
        try:
            return self.names.read(fact.name, fact.entity_class, value)
        except AmbiguousName as exc:
            raise PreparationError(fact.name, f"'{fact.name}': “{exc.given}” names several entities "
                                              f"({', '.join(exc.ids)}); give the id of the one meant") from None

    def prepare(self, rule: Any, facts: dict[str, Any]) -> Prepared:
        if not isinstance(facts, dict):
            return Prepared(facts)
        out = facts
        readings: list[Reading] = []
        for name in [n for n in facts if n in self.entity_facts]:
            value = facts[name]
            fact = self.entity_facts[name]
            items = value if isinstance(value, list) else [value]
            changed = []
            for item in items:
                reading = self._read(fact, item) if isinstance(item, str) else None
                if reading is not None and reading.id is None and not is_id(item):
                    near = ", ".join(reading.suggestions) or "none"
                    raise PreparationError(name, f"'{name}' must be an entity id such as 'boc' or a name the "
                                                 f"knowledge base knows; nearest known names: {near}")
                if reading is not None and name in rule.facts:
                    readings.append(reading)
                changed.append(reading.id if reading is not None and reading.id else item)
            if changed != items:
                if out is facts:
                    out = dict(facts)
                out[name] = changed if isinstance(value, list) else changed[0]
        if not self._implies.setdefault(rule.id, [i for i in self.implications
                                                  if i.if_fact in rule.facts and i.then_fact in rule.facts]):
            return Prepared(out, readings) if readings or out is not facts else Prepared(facts)
        multiple = {n: f.multiple for n, f in rule.facts.items()}
        out, derivations = derived.derive(self._implies[rule.id], out, multiple)
        return Prepared(out, readings, derivations)

    # ------------------------------------------------------------------ after
    def annotate(self, rule: Any, answer: dict[str, Any], prepared: Prepared, lang: str) -> dict[str, Any]:
        present = {n for n, v in prepared.facts.items() if v is not None and n in rule.facts} \
            if isinstance(prepared.facts, dict) else set()
        caveats = []
        for criterion, out in zip(rule.criteria, answer["criteria"], strict=True):
            reads = {*criterion.requires, *criterion.one_of, *criterion.reads}
            missing = any(f not in present for f in criterion.requires) or \
                bool(criterion.one_of and not present.intersection(criterion.one_of))
            rests = criterion.rests_on
            out["source_tiers"] = [] if missing or rests is None else list(rests.tiers)
            if missing:
                continue
            notes = [r.message(self.names, lang, with_group=out["outcome"] != "pass")
                     for r in prepared.readings if r.fact in reads]
            notes += [d.message(lang) for d in prepared.derivations if d.implication.then_fact in reads]
            notes = [n for n in notes if n]
            if notes:
                joined = "; ".join(notes) if lang == "en" else "；".join(notes)
                out["message"] = f"{out['message']} ({joined})" if lang == "en" else f"{out['message']}（{joined}）"
            if rests is not None and rests.caveat and out["outcome"] in ("pass", "fail"):
                sources = self.tiers.caveat_sources(criterion.iri, rests, lang)
                caveats.append({"criterion": criterion.id, "outcome": out["outcome"], "sources": sources,
                                "message": caveat_message(criterion.id, sources, lang)})
        flagged = {c["criterion"] for c in caveats}
        failing = [c["id"] for c in answer["criteria"] if c["outcome"] == "fail"]
        verdict = answer["verdict"]
        answer["verdict_rests_on_secondary_source"] = bool(
            (verdict == "eligible" and flagged) or (verdict == "ineligible" and failing and set(failing) <= flagged))
        answer["caveats"] = caveats
        answer["entity_names"] = [r.as_json(self.names, lang) for r in prepared.readings]
        answer["derived_facts"] = [d.as_json(self._cited, lang) for d in prepared.derivations]
        return answer


    def _cited(self, iris: list[str], lang: str) -> list[dict[str, Any]]:
        """The implications' citations, read once per language (each derivation would otherwise query)."""
        key = ("|".join(iris), lang)
        if key not in self._derived_citations:
            self._derived_citations[key] = self.citations(iris, lang)
        return [dict(c) for c in self._derived_citations[key]]


__all__ = ["Preparation", "PreparationError", "Prepared"]
