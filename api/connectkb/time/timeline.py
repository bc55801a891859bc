"""A verdict across valid time: the consecutive intervals of a rule's answer for one fact set, each
boundary explained by the dated statement of the KB that moves it.

The verdict can only change where something the rule reads changes: on the dates of the rule's KB slice
(the compiled engine's interval boundaries, `Ctx.bounds`) and, for a dated fact such as a maturity date,
where a threshold the checks compare it with is crossed. Those dates are the only samples; between two
samples that disagree the first day of the new answer is found by bisection, so no day is probed one
by one."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from rdflib import XSD, Literal, URIRef

from ..common.dates import add_months
from ..common.ids import to_id
from ..common.languages import MISSING_FACT
from ..common.namespaces import CK, sparql_prologue
from ..rules.compiled.facts import Invalid
from ..rules.compiled.kinds import SH, Ctx

MAX_REFERENCE_SAMPLES = 64  # pySHACL answers in tens of ms: a rule it serves gets at most this many samples
_PERIOD = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2]))?$")
_CITES = sparql_prologue() + "SELECT ?s ?c WHERE { ?s ck:citation ?c }"
_NOTES = sparql_prologue() + "SELECT ?s ?n WHERE { ?s ck:dateNote ?n }"


class TimelineError(ValueError):
    """A malformed timeline request; `field` names the parameter."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class _Sampler:
    """One fact set under one rule: its answer's signature (each criterion's outcome) on any day."""

    def __init__(self, rules: Any, compiled: Any, rule_id: str, facts: dict[str, Any], lang: str):
        self.rules, self.compiled, self.facts, self.lang = rules, compiled, facts, lang
        self.rule = rules.get_rule(rule_id)
        self.cr = compiled.compiled.get(rule_id)
        self.row: dict[str, tuple[Any, ...]] | None = None
        # the facts as an evaluation reads them (names resolved, implied facts added); FactError if malformed
        prepared = rules.prepare(self.rule, facts).facts
        if self.cr is not None:
            try:
                self.row = compiled.normaliser.row(prepared)
            except Invalid:
                rules.facts_to_graph(self.rule, prepared, dt.date.today())  # raises the reference's FactError
        else:
            rules.facts_to_graph(self.rule, prepared, dt.date.today())
        self.present = {n for n, v in prepared.items() if v is not None and n in self.rule.facts}
        self.engine = "compiled" if self.row is not None else "reference"
        self._answers: dict[dt.date, dict[str, Any]] = {}
        self.evaluations = 0
        self.exact = False

    def signature(self, day: dt.date) -> tuple[Any, ...]:
        self.evaluations += 1
        if self.row is not None:
            assert self.cr is not None
            return tuple(self.cr.outcomes(self.row, self.present, day, self.cr.ctx.interval(day)))
        answer = self.answer(day)
        return tuple(c["outcome"] for c in answer["criteria"])

    def answer(self, day: dt.date) -> dict[str, Any]:
        hit = self._answers.get(day)
        if hit is None:
            # the engines' own answer for the day (messages, derivations and source tiers included)
            hit = self.compiled.evaluate(self.rule.id, self.facts, day, self.lang)
            self._answers[day] = hit
        return hit

    def samples(self, start: dt.date, end: dt.date) -> list[dt.date]:
        ctx = self.cr.ctx if self.cr is not None else Ctx(self.rule, self.rules.label_of, None)
        days = {b for b in ctx.bounds if start < b <= end}
        fact_days = self._fact_dates()
        # the compiled checks compare the as-of date only with the slice's dates, so the answer is constant
        # between two of its boundaries; a date the facts give (a maturity) may move it in between
        self.exact = not fact_days
        days |= {d for d in fact_days if start < d <= end}
        out = [start, *sorted(days)]
        if self.row is None and len(out) > MAX_REFERENCE_SAMPLES:
            raise TimelineError("to", f"rule {self.rule.id} is served by the reference engine, which can sample "
                                      f"at most {MAX_REFERENCE_SAMPLES} change dates; ask for a shorter period")
        return out

    def _fact_dates(self) -> set[dt.date]:
        """Where a dated check may flip on a date the facts give: the fact's date less each threshold the
        check compares (read as years), and the days around it (month arithmetic rounds at month ends)."""
        if self.cr is None or self.row is None:
            return set()
        out: set[dt.date] = set()
        for crit in self.cr.criteria:
            for check in crit.checks:
                if not check.dated:
                    continue
                given = [v[1] for iri in check.reads for v in self.row.get(iri, ())
                         if isinstance(v, tuple) and v[0] == "t"]
                if not given:
                    continue
                months = {round(p * 12) for iri in check.reads for p in (check.points(iri) or [])}
                for day in given:
                    for m in months:
                        centre = add_months(day, -int(m))
                        if centre is None:
                            continue
                        for shift in range(-2, 3):
                            with_shift = centre + dt.timedelta(days=shift)
                            out.add(with_shift)
                    out.add(day)
                    if day < dt.date.max:
                        out.add(day + dt.timedelta(days=1))
        return out


def _first_change(sampler: _Sampler, lo: dt.date, hi: dt.date, old: tuple[Any, ...]) -> dt.date:
    """The first day in (lo, hi] whose signature differs from `old` (it differs on hi)."""
    while (hi - lo).days > 1:
        mid = lo + (hi - lo) / 2
        if sampler.signature(mid) == old:
            lo = mid
        else:
            hi = mid
    return hi


def intervals(sampler: _Sampler, start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date, tuple[Any, ...]]]:
    days = sampler.samples(start, end)
    out: list[list[Any]] = []
    previous = None
    for day in days:
        sig = sampler.signature(day)
        if previous is None:
            out.append([day, end, sig])
        elif sig != previous[1]:
            first = day if sampler.exact else _first_change(sampler, previous[0], day, previous[1])
            if first != day:  # the answer changed before the sample: the new answer starts there
                sig = sampler.signature(first)
                day = first
            out[-1][1] = day - dt.timedelta(days=1)
            out.append([day, end, sig])
        previous = (day, sig)
    return [(a, b, s) for a, b, s in out]


class _Slice:
    """What of a rule's KB slice explains boundaries: its dated statements and what it leaves unstated."""

    def __init__(self, rule: Any):
        base = rule.base
        self.unders = {str(o) for o in base.objects(None, CK.eligibleUnder)}
        self.points_to: dict[str, set[str]] = {}  # IRI value → the subjects that name it
        self.dated: list[tuple[str, str, dt.date, dt.date]] = []  # subject, property, date, first day moved
        for s, p, o in base:
            if not isinstance(s, URIRef):
                continue
            if isinstance(o, URIRef):
                self.points_to.setdefault(str(o), set()).add(str(s))
            if not isinstance(o, Literal):
                continue
            if o.datatype == XSD.date:
                try:
                    day = dt.date.fromisoformat(str(o))
                except ValueError:
                    continue
                self.dated.append((str(s), str(p), day, day))
                if day < dt.date.max:  # an end date (effectiveTo, settledUntil) moves the answer the day after
                    self.dated.append((str(s), str(p), day, day + dt.timedelta(days=1)))
            elif o.datatype in (None, XSD.gYear, XSD.gYearMonth) and o.language is None:
                match = _PERIOD.match(str(o))
                if match:
                    first = dt.date(int(match.group(1)), int(match.group(2) or 1), 1)
                    self.dated.append((str(s), str(p), first, first))
        self.not_stated = sorted({(str(s), str(p)) for s, p in base.subject_objects(CK.notStated)
                                  if isinstance(s, URIRef)})
        # where a release marks no ck:notStated, a date note on what the rule names still says what is missing
        self.noted = sorted({str(s) for s in base.subjects(CK.dateNote) if isinstance(s, URIRef)})
        # the dates the checks read: a predicate their SPARQL names (others, such as an expected date, do
        # not move the answer even when they fall on the same day)
        text = " ".join(str(q) for q in rule.shapes.objects(None, SH.select))
        self.read = {p for _, p, _, _ in self.dated if to_id(p) in text or f"<{p}>" in text}


class Timelines:
    """Timelines over one KB (the current one, or a release's): its rules engines, with what every
    timeline of a rule reads kept once (the slice's dated statements, the KB's citations and date notes)."""

    MAX_SLICES = 256

    def __init__(self, rules: Any, compiled: Any):
        self.rules, self.compiled = rules, compiled
        self._slices: dict[str, _Slice] = {}
        self._cites: dict[str, list[str]] | None = None
        self._notes: dict[str, list[tuple[str, str]]] | None = None
        self._rendered: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def _slice(self, rule: Any) -> _Slice:
        hit = self._slices.get(rule.id)
        if hit is None:
            if len(self._slices) >= self.MAX_SLICES:
                self._slices.clear()
            hit = self._slices[rule.id] = _Slice(rule)
        return hit

    def _citations(self, iri: str, lang: str) -> list[dict[str, Any]]:
        if self._cites is None:
            cites: dict[str, list[str]] = {}
            for row in self.rules.backend.select(_CITES):
                cites.setdefault(row["s"]["value"], []).append(row["c"]["value"])
            self._cites = cites
        key = (iri, lang)
        hit = self._rendered.get(key)
        if hit is None:  # keyed by the KB's own subjects only, so bounded by the KB
            hit = self._rendered[key] = self.rules.citations(sorted(self._cites.get(iri, [])), lang)
        return [dict(c) for c in hit]

    def _date_notes(self, iri: str, lang: str) -> list[str]:
        if self._notes is None:
            notes: dict[str, list[tuple[str, str]]] = {}
            for row in self.rules.backend.select(_NOTES):
                notes.setdefault(row["s"]["value"], []).append((row["n"].get("xml:lang", ""), row["n"]["value"]))
            self._notes = notes
        found = self._notes.get(iri, [])
        wanted = [text for tag, text in found if tag.startswith(lang)]
        return wanted or [text for _, text in found[:1]]

    def _subject(self, iri: str, lang: str) -> dict[str, Any]:
        return {"id": to_id(iri), "label": self.rules.label_of(iri, lang)}

    def _boundary(self, sl: _Slice, relevant: set[str], day: dt.date, lang: str) -> list[dict[str, Any]]:
        hits = [(s, p, d) for s, p, d, moved in sl.dated if moved == day]
        hits = [h for h in hits if h[1] in sl.read] or hits
        near = [h for h in hits if h[0] in relevant]
        return [{"subject": self._subject(s, lang), "property": to_id(p), "date": d.isoformat(),
                 "moves": "from this day" if d == day else "the day after", "citations": self._citations(s, lang)}
                for s, p, d in sorted(set(near or hits))]

    def _unstated(self, sl: _Slice, relevant: set[str], lang: str) -> list[dict[str, Any]]:
        near = [x for x in sl.not_stated if x[0] in relevant]
        listed: list[tuple[str, str | None]] = list(near)
        if not listed:
            listed = [(s, None) for s in sl.noted if s in relevant] or list(sl.not_stated)
        return [{"subject": self._subject(s, lang), "property": to_id(p) if p else None,
                 "notes": self._date_notes(s, lang), "citations": self._citations(s, lang)} for s, p in listed]

    def timeline(self, rule_id: str, facts: dict[str, Any], start: dt.date, end: dt.date,
                 lang: str = "en") -> dict[str, Any]:
        """The intervals of [start, end] on which the rule's answer for `facts` stays the same."""
        if end < start:
            raise TimelineError("to", f"'to' ({end}) is before 'from' ({start})")
        sampler = _Sampler(self.rules, self.compiled, rule_id, facts, lang)
        sl = self._slice(sampler.rule)
        # the statements about what the facts name (a bank's role assignment) and about the criteria's
        # arrangements explain a boundary first; others on the same day only where none of those does
        values = {v for vals in (sampler.row or {}).values() for v in vals if isinstance(v, str)}
        relevant = sl.unders | values | {s for v in values for s in sl.points_to.get(v, ())}
        out = []
        previous: dict[str, str] | None = None
        answer: dict[str, Any] = {}
        for first, last, _ in intervals(sampler, start, end):
            answer = sampler.answer(first)
            outcomes = {c["id"]: c["outcome"] for c in answer["criteria"]}
            item: dict[str, Any] = {
                "from": first.isoformat(), "to": last.isoformat(), "verdict": answer["verdict"],
                "criteria": [{"id": c["id"], "outcome": c["outcome"], "message": c["message"]}
                             for c in answer["criteria"]]}
            if previous is not None:
                changed = [{"criterion": k, "from": previous.get(k), "to": v} for k, v in outcomes.items()
                           if previous.get(k) != v]
                because = self._boundary(sl, relevant, first, lang)
                given = [name for name, value in facts.items() if name in sampler.rule.facts and _is_day(value)]
                item["change"] = {"date": first.isoformat(), "criteria": changed, "because": because,
                                  **({"input_facts": given} if given and not because else {})}
            if answer["verdict"] == "undetermined":
                open_criteria = [c for c in answer["criteria"] if c["outcome"] == "unknown"]
                unsettled = any(not c["message"].startswith(tuple(MISSING_FACT.values())) for c in open_criteria)
                item["open"] = {"criteria": [{"id": c["id"], "message": c["message"]} for c in open_criteria],
                                "missing_facts": answer["missing_facts"],
                                "not_stated": self._unstated(sl, relevant, lang) if unsettled else []}
            out.append(item)
            previous = outcomes
        return {"rule": sampler.rule.id, "label": answer.get("label"), "lang": answer.get("lang", lang),
                "from": start.isoformat(), "to": end.isoformat(), "engine": sampler.engine, "intervals": out,
                "evaluations": sampler.evaluations}


def _is_day(value: Any) -> bool:
    """A given date fact (a maturity date): a boundary no KB statement explains is counted from it."""
    return isinstance(value, str) and bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))
