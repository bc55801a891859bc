"""Valid time: what changed between two dates, and what was in force on a date.

Changes are derived from the KB's dated facts — anything announced (ck:announcedOn), taking effect
(ck:effectiveFrom), ending (ck:effectiveTo), a dated amount that replaces an earlier one, and
explicit ck:Correction records — so a new dated fact in Turtle shows up with no code and no list.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..common.backend import SparqlBackend
from ..common.ids import to_id
from ..common.languages import lang_key
from ..common.namespaces import KB, sparql_prologue
from ..knowledge.entities import EntityService

KINDS = ("announced", "effective", "ended", "amended", "corrected")
_PROLOGUE = sparql_prologue()

_DATED = _PROLOGUE + """
SELECT ?s ?kind ?when ?owner WHERE {
  { ?s ck:announcedOn|ck:announcedInPeriod ?when BIND("announced" AS ?kind) }
  UNION { ?s ck:effectiveFrom|ck:effectiveFromPeriod ?when BIND("effective" AS ?kind) }
  UNION { ?s ck:effectiveTo|ck:effectiveToPeriod ?when BIND("ended" AS ?kind) }
  UNION { ?s a ck:Correction ; ck:correctionDate ?when BIND("corrected" AS ?kind) }
  FILTER(isIRI(?s) && STRSTARTS(STR(?s), "https://w3id.org/connectkb/id/"))
  # observations and documents carry dates too, but they report on the market, not a policy change
  FILTER NOT EXISTS { ?s a ?observation . FILTER(?observation IN (ck:Statistic, ck:ExchangeRateObservation,
                                                                 ck:SourceDocument, ck:Citation)) }
  # a dated amount or term is a change to what holds it
  OPTIONAL { ?owner ?holds ?s . ?s a ck:MonetaryAmount . FILTER(isIRI(?owner)) }
}"""

_NOT_STATED = _PROLOGUE + """
SELECT ?s ?p WHERE { ?s ck:notStated ?p . FILTER(?p IN (ck:effectiveFrom, ck:effectiveTo, ck:announcedOn)) }"""

_SUMMARIES = _PROLOGUE + """SELECT ?s ?text WHERE { ?s ck:summary ?text }"""
_ABOUT = _PROLOGUE + """SELECT ?s ?target WHERE { ?s a ck:Announcement ; ck:about ?target }"""
_CORRECTS = _PROLOGUE + """
SELECT ?c ?subject WHERE { ?c a ck:Correction ; ck:corrects ?claim . OPTIONAL { ?claim rdf:subject ?subject } }"""
_CITATIONS = _PROLOGUE + """SELECT ?s ?c WHERE { ?s ck:citation ?c }"""

_PHRASES = {
    "announced": ("Announced", "公布", "公布"), "effective": ("Took effect", "生效", "生效"),
    "ended": ("Ended", "终止", "終止"), "amended": ("Amended", "修订", "修訂"),
    "corrected": ("Corrected", "更正", "更正"),
}
_PHRASE_INDEX = {"en": 0, "zh": 1, "zh-Hant": 2}


class BadPeriod(ValueError):
    """A date parameter that is malformed or out of order; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class When:
    """A day, or a month or year where the source gives no day."""

    text: str
    first: dt.date
    last: dt.date

    @property
    def precision(self) -> str:
        return {10: "day", 7: "month", 4: "year"}[len(self.text)]

    @classmethod
    def parse(cls, text: str) -> When:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return cls(text, day, day)
        if len(text) == 7:
            year, month = int(text[:4]), int(text[5:7])
            return cls(text, dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1]))
        year = int(text[:4])
        return cls(text, dt.date(year, 1, 1), dt.date(year, 12, 31))


@dataclass(frozen=True)
class Change:
    when: When
    kind: str
    subject: str  # IRI of what changed
    carrier: str  # IRI of the dated resource (the subject itself, an amount, a correction, an announcement)


class ChangesEngine:
    """Built once from the store: the dated facts are few, so the timeline is kept in memory."""

    def __init__(self, backend: SparqlBackend, entities: EntityService):
        self.entities = entities
        self.changes = self._derive(backend)
        self._not_stated: dict[str, set[str]] = {}
        for row in backend.select(_NOT_STATED):
            self._not_stated.setdefault(row["s"]["value"], set()).add(to_id(row["p"]["value"]))
        self._summaries: dict[str, dict[str, str]] = {}
        for row in backend.select(_SUMMARIES):
            lang = lang_key(row["text"].get("xml:lang")) or "en"
            self._summaries.setdefault(row["s"]["value"], {}).setdefault(lang, row["text"]["value"])
        self._citations: dict[str, list[str]] = {}
        for row in backend.select(_CITATIONS):
            self._citations.setdefault(row["s"]["value"], []).append(row["c"]["value"])

    def _derive(self, backend: SparqlBackend) -> list[Change]:
        about = {r["s"]["value"]: r["target"]["value"] for r in backend.select(_ABOUT)}
        corrects = {r["c"]["value"]: r.get("subject", {}).get("value") for r in backend.select(_CORRECTS)}
        changes = set()
        for row in backend.select(_DATED):
            carrier, kind, when = row["s"]["value"], row["kind"]["value"], When.parse(row["when"]["value"])
            subject = carrier
            if carrier in corrects:  # whatever date a correction carries, it is a correction
                kind, subject = "corrected", corrects[carrier] or carrier
            elif "owner" in row:
                subject = row["owner"]["value"]
                kind = "amended" if kind == "effective" else kind
            elif carrier in about:
                subject = about[carrier]
            changes.add(Change(when, kind, subject, carrier))
        return sorted(changes, key=lambda c: (c.when.first, KINDS.index(c.kind), c.subject, c.carrier))

    def between(self, start: dt.date, end: dt.date, *, kind: str | None = None, measure: str | None = None,
                type_: str | None = None, topic: str | None = None, lang: str = "en") -> list[dict[str, Any]]:
        """Every change with start < date <= end. A change dated only by month or year counts when the
        whole month or year lies in the window: it is certainly there, and no day is guessed."""
        related = self._related(measure) if measure else None
        types = self.entities.type_matches(type_) if type_ else None
        out = []
        for change in self.changes:
            if not (change.when.first > start and change.when.last <= end):
                continue
            if kind and change.kind != kind:
                continue
            if related is not None and not ({change.subject, change.carrier} & related):
                continue
            if types is not None and not (self.entities.types_of(change.subject) & types):
                continue
            item = self.describe(change, lang)
            if topic and topic.lower() not in (item["summary"] + " " + (item["subject"]["label"] or "")).lower():
                continue
            out.append(item)
        return out

    def _related(self, measure_iri: str) -> set[str]:
        """The measure and everything one link away from it (its roles, amounts, collateral uses…)."""
        return {measure_iri} | self.entities.neighbours(measure_iri)

    def describe(self, change: Change, lang: str) -> dict[str, Any]:
        label = self.entities.label_of(change.subject, lang) or to_id(change.subject)
        carrier_label = self.entities.label_of(change.carrier, lang)
        phrase = _PHRASES[change.kind][_PHRASE_INDEX.get(lang, 0)]
        sep = ": " if lang == "en" else "："
        detail = ""
        if change.carrier != change.subject and carrier_label:
            detail = (" — " if lang == "en" else "——") + carrier_label
        if change.kind == "corrected":
            summary = self._summaries.get(change.carrier, {})
            detail = (" — " if lang == "en" else "——") + (summary.get(lang) or summary.get("en") or "")
        notes = []
        unstated = self._not_stated.get(change.carrier, set())
        if change.kind == "announced" and "ck:effectiveFrom" in unstated:
            notes.append({"en": "effective date not stated", "zh-Hant": "生效日期未説明"}.get(lang, "生效日期未说明"))
        if change.when.precision != "day":
            notes.append((f"the source gives only the {change.when.precision} {change.when.text}") if lang == "en"
                         else f"{'來源僅給出' if lang == 'zh-Hant' else '来源仅给出'}"
                              f"{'月份' if change.when.precision == 'month' else '年份'} {change.when.text}")
        summary_text = f"{phrase}{sep}{label}{detail}" + (f" ({'; '.join(notes)})" if lang == "en" and notes
                                                           else (f"（{'；'.join(notes)}）" if notes else ""))
        citations = self._citations.get(change.carrier, [])  # the dated resource's own sources
        return {
            "id": f"{change.kind}/{to_id(change.subject)}/{change.when.text}" + (
                f"/{to_id(change.carrier)}" if change.carrier != change.subject else ""),
            "date": change.when.text, "date_precision": change.when.precision, "kind": change.kind,
            "subject": {"id": to_id(change.subject), "label": label},
            "via": {"id": to_id(change.carrier), "label": carrier_label} if change.carrier != change.subject else None,
            "summary": summary_text,
            "not_stated": sorted(unstated),
            "citations": self.entities.citations(citations, lang),
        }


def parse_window(start: str | None, end: str | None) -> tuple[dt.date, dt.date]:
    def one(value: str | None, field: str) -> dt.date:
        if not value:
            raise BadPeriod(field, f"'{field}' is required: a date YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise BadPeriod(field, f"'{field}' must be a date YYYY-MM-DD, not '{value}'") from None

    first, last = one(start, "from"), one(end, "to")
    if first > last:
        raise BadPeriod("from", f"'from' ({first}) is after 'to' ({last})")
    return first, last


__all__ = ["KB", "KINDS", "BadPeriod", "ChangesEngine", "parse_window"]
