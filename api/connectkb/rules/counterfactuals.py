"""What would make it eligible: the smallest sets of changes to the input facts (at most MAX_CHANGES)
after which every criterion of a rule passes, searched on the compiled engine.

Nothing here knows a rule. The values tried for a fact come from its declaration and the KB: a code
list's codes, the entities of its class and the role holders the rule's slice names, a rating scale's
grades, and for a number the points the compiled checks compare it with (a KB threshold, a range bound)
with a value on either side — one value per class of values that decide alike. A step says which
criterion it satisfies, with that criterion's citations. Where no change of the facts helps on the
as-of date (the measure was not yet in force), the answer says so and gives the first later date on
which the facts, or a change of them, would."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from fractions import Fraction
from typing import Any

from rdflib import URIRef

from ..common.dates import add_months
from ..common.ids import to_id
from ..common.namespaces import PREFIXES
from .compiled.facts import Invalid
from .compiled.kinds import ORG
from .engine import FactError

MAX_CHANGES = 3
MAX_EVALUATIONS = 5_000  # per as-of date: the search stops there and says it was cut short
MAX_OPTIONS = 10
MAX_LATER_DATES = 32
_STEP = Decimal("0.0001")


def _number(x: Any, integer: bool) -> list[Any]:
    """JSON values on and either side of a point: exact where the point is, else the nearest ones."""
    q = Decimal(x.numerator) / Decimal(x.denominator) if isinstance(x, Fraction) else Decimal(x)
    if integer:
        lo, hi = int(q.to_integral_value(ROUND_FLOOR)), int(q.to_integral_value(ROUND_CEILING))
        return sorted({lo - 1, lo, hi, hi + 1})
    lo, hi = q.quantize(_STEP, ROUND_FLOOR), q.quantize(_STEP, ROUND_CEILING)
    return sorted({lo - _STEP, lo, hi, hi + _STEP})


def _json_number(d: Any) -> Any:
    if isinstance(d, int):
        return d
    return int(d) if d == d.to_integral_value() else float(d)


class Counterfactuals:
    """The search over one compiled rules engine (the current KB's, or a release's)."""

    def __init__(self, rules: Any, compiled: Any):
        self.rules, self.compiled = rules, compiled
        self._entities: dict[str, list[str]] = {}

    # ---------------------------------------------------------------- candidate values
    def _entity_ids(self, rule: Any, fact: Any) -> list[str]:
        key = f"{rule.id}\0{fact.name}"
        if key not in self._entities:
            iris = {str(o) for o in rule.base.objects(None, ORG.member) if isinstance(o, URIRef)}
            if fact.entity_class:
                from ..common.ids import iri_node
                from ..common.namespaces import sparql_prologue
                rows = self.rules.backend.select(sparql_prologue() + "SELECT ?cls ?e WHERE { ?e a ?cls }",
                                                 {"cls": iri_node(fact.entity_class)})
                iris |= {r["e"]["value"] for r in rows}
            ids = sorted(i for i in (to_id(x) for x in iris) if ":" not in i and "/" not in i)
            self._entities[key] = ids
        return self._entities[key]

    def _points(self, cr: Any, iri: str) -> list[Any]:
        out = []
        for crit in cr.criteria:
            for check in crit.checks:
                got = check.points(iri) if iri in check.reads else None
                out.extend(got or [])
        return sorted(set(out))

    def candidates(self, cr: Any, fact: Any, current: Any, as_of: dt.date) -> list[Any]:
        """The values tried for `fact` (its current value excluded)."""
        kind = fact.kind
        out: list[Any] = []
        if kind == "boolean":
            out = [True, False]
        elif kind in ("integer", "decimal"):
            points = self._points(cr, fact.iri)
            values: set[Any] = set()
            for p in points:
                values.update(_number(p, kind == "integer"))
            for a, b in itertools.pairwise(points):
                values.update(_number((Fraction(a) + Fraction(b)) / 2, kind == "integer"))
            out = [_json_number(v) for v in sorted(values)]
        elif kind == "concept":
            out = sorted(fact.codes)
        elif kind == "entity":
            out = self._entity_ids(cr.rule, fact)
        elif kind == "rating":
            out = [{"agency": a, "grade": g} for a, g in sorted(fact.grades)]
        elif kind == "iso4217":
            prefix = PREFIXES["iso4217"]
            out = sorted({str(o)[len(prefix):] for o in cr.rule.base.objects() if str(o).startswith(prefix)})
        elif kind == "date":
            out = self._dates(cr, fact, as_of)
        if fact.multiple:
            have = list(current) if isinstance(current, list) else []
            lists = [[*have, v] for v in out if v not in have] + [[x for x in have if x != v] for v in have]
            lists += [[v] for v in out if [v] != have]
            seen, unique = set(), []
            for item in lists:
                key = repr(item)
                if key not in seen:
                    seen.add(key)
                    unique.append(item)
            return unique
        return [v for v in out if v != current]

    def _dates(self, cr: Any, fact: Any, as_of: dt.date) -> list[str]:
        """A date a dated check compares with year thresholds (a maturity date): the as-of date plus each
        threshold, and a day either side."""
        months: set[int] = set()
        for crit in cr.criteria:
            for check in crit.checks:
                if fact.iri in check.reads and check.dated:
                    for iri in check.reads:
                        months.update(round(p * 12) for p in (check.points(iri) or []))
        out = set()
        for m in months:
            for dm in (-1, 0, 1):
                day = add_months(as_of, int(m) + dm)
                if day is not None:
                    out.update(day + dt.timedelta(days=d) for d in (-1, 0, 1))
        return sorted(d.isoformat() for d in out)

    # ---------------------------------------------------------------- search
    def search(self, rule_id: str, facts: dict[str, Any], as_of: dt.date, lang: str = "en") -> dict[str, Any]:
        rule = self.rules.get_rule(rule_id)
        cr = self.compiled.compiled.get(rule_id)
        if cr is None:
            return {"engine": "reference", "options": [], "searched": False,
                    "reason": f"rule {rule_id} is served by the reference engine ({self.compiled.reasons[rule_id]}); "
                              "the search runs on the compiled engine only"}
        run = _Run(self, cr, rule, facts)
        if run.codes((), as_of) is None:
            return {"engine": "compiled", "options": [], "searched": False,
                    "reason": "a fact is outside what the compiled engine reads; the search was not run"}
        options, cut = run.at(as_of)
        result: dict[str, Any] = {"engine": "compiled", "searched": True, "max_changes": MAX_CHANGES,
                                  "varied_facts": run.varied, "not_varied": run.not_varied}
        if options:
            result.update(options=[run.render(o, as_of, lang) for o in options], none_helps=False)
        else:
            result.update(options=[], none_helps=True,
                          reason=f"no change of at most {MAX_CHANGES} of the facts makes the rule's criteria all "
                                 f"pass on {as_of.isoformat()}" + (" (the search was cut short)" if cut else ""))
            later = [b for b in cr.ctx.bounds if b > as_of][:MAX_LATER_DATES]
            result["earliest"] = None
            for day in later:
                if run.eligible_as_given(day):
                    result["earliest"] = {"date": day.isoformat(), "facts_as_given": True, "options": []}
                    break
                found, _ = run.at(day)
                if found:
                    result["earliest"] = {"date": day.isoformat(), "facts_as_given": False,
                                          "options": [run.render(o, day, lang) for o in found]}
                    break
        result["evaluations"] = run.evaluations
        return result


class _Run:
    """One search: a fact set under one compiled rule."""

    def __init__(self, owner: Counterfactuals, cr: Any, rule: Any, facts: dict[str, Any]):
        self.owner, self.cr, self.rule, self.facts = owner, cr, rule, facts
        self.by_iri = {f.iri: f.name for f in rule.facts.values()}
        # a fact the KB implies another from (an issuer type implies a bond type) is read where that one is
        implied_by: dict[str, set[str]] = {}
        for imp in getattr(getattr(owner.rules, "preparation", None), "implications", []):
            if imp.if_fact in rule.facts:
                implied_by.setdefault(imp.then_fact, set()).add(imp.if_fact)
        self.reads = []  # per criterion: the names of the facts it reads or needs
        for crit in cr.criteria:
            names = {self.by_iri[i] for i in crit.reads if i in self.by_iri} | set(crit.c.requires) | set(crit.c.one_of)
            self.reads.append(names | {src for n in names for src in implied_by.get(n, ())})
        self.varied = sorted(n for n, f in rule.facts.items() if f.kind != "string")
        self.not_varied = sorted(set(rule.facts) - set(self.varied))
        self.evaluations = 0
        self.normaliser = owner.compiled.normaliser
        self.alike: dict[tuple[str, str], list[Any]] = {}  # a value tried → the others that decided alike

    def codes(self, changes: tuple[tuple[str, Any], ...], day: dt.date) -> list[int] | None:
        """Each criterion's outcome with the changes made, the facts prepared as an evaluation prepares
        them (names resolved, implied facts added); None where a changed value is not accepted."""
        facts = {**self.facts, **dict(changes)}
        try:
            prepared = self.owner.rules.prepare(self.rule, facts).facts
            row = self.normaliser.row(prepared)
        except (FactError, Invalid):
            return None
        present = {n for n, v in prepared.items() if v is not None and n in self.rule.facts}
        self.evaluations += 1
        return self.cr.outcomes(row, present, day, self.cr.ctx.interval(day))

    def eligible_as_given(self, day: dt.date) -> bool:
        codes = self.codes((), day)
        return codes is not None and not any(codes)

    def at(self, day: dt.date) -> tuple[list[tuple[tuple[str, Any], ...]], bool]:
        """The smallest change sets that make every criterion pass on `day`; and whether the search was cut."""
        if self.evaluations >= MAX_EVALUATIONS:
            return [], True
        base = self.codes((), day)
        if base is None:
            return [], False
        bad = [i for i, c in enumerate(base) if c]
        if not bad:
            return [()], False
        names = sorted(set().union(*(self.reads[i] for i in bad)) & set(self.varied))
        # one value per class: values of a fact whose single change leaves every criterion alike
        changes: dict[str, list[Any]] = {}
        for name in names:
            fact = self.rule.facts[name]
            seen: dict[tuple[int, ...], list[Any]] = {}
            for value in self.owner.candidates(self.cr, fact, self.facts.get(name), day):
                codes = self.codes(((name, value),), day)
                if codes is None:
                    continue
                seen.setdefault(tuple(codes), []).append(value)
            changes[name] = [members[0] for members in seen.values()]
            for members in seen.values():
                self.alike[(name, repr(members[0]))] = members[1:]
        for size in range(1, MAX_CHANGES + 1):
            found = []
            for combo in itertools.combinations(names, size):
                for values in itertools.product(*(changes[n] for n in combo)):
                    if self.evaluations >= MAX_EVALUATIONS:
                        return found, True
                    change = tuple(zip(combo, values, strict=True))
                    codes = self.codes(change, day)
                    if codes is not None and not any(codes):
                        found.append(change)
            if found:
                return found[:MAX_OPTIONS], False
        return [], False

    def render(self, change: tuple[tuple[str, Any], ...], day: dt.date, lang: str) -> dict[str, Any]:
        base = self.codes((), day) or []
        after = self.codes(change, day) or []
        static = self.cr.static[lang]["criteria"]
        steps = []
        for name, value in change:
            satisfied = [i for i, (b, a) in enumerate(zip(base, after, strict=True))
                         if b and not a and name in self.reads[i]]
            others = tuple(c for c in change if c[0] != name)
            alternatives = [v for v in self.alike.get((name, repr(value)), [])
                            if self.rule.facts[name].kind not in ("integer", "decimal")
                            and (codes := self.codes(((name, v), *others), day)) is not None and not any(codes)]
            step: dict[str, Any] = {"fact": name, "from": self.facts.get(name), "to": value,
                                    "alternatives": alternatives,
                                    "condition": self._condition(name, value, change, day),
                                    "satisfies": [{"criterion": self.cr.criteria[i].c.id, "label": static[i][0],
                                                   "citations": [dict(x) for x in static[i][1]]}
                                                  for i in satisfied]}
            steps.append(step)
        return {"changes": steps}

    def _condition(self, name: str, value: Any, change: tuple[tuple[str, Any], ...], day: dt.date) -> str:
        """For a number, the range of values that works with the rest of the change (from the class points)."""
        fact = self.rule.facts[name]
        if fact.kind not in ("integer", "decimal") or fact.multiple:
            return f"{name} = {value}"
        others = tuple(c for c in change if c[0] != name)
        tried = sorted({value, *self.owner.candidates(self.cr, fact, None, day)})
        works = {v: (codes := self.codes(((name, v), *others), day)) is not None and not any(codes) for v in tried}
        points = {Decimal(str(p)) if not isinstance(p, Fraction) else p for p in self.owner._points(self.cr, fact.iri)}
        i = tried.index(value)
        lo, hi = i, i
        while lo > 0 and works[tried[lo - 1]]:
            lo -= 1
        while hi < len(tried) - 1 and works[tried[hi + 1]]:
            hi += 1
        parts = []
        if lo > 0:
            first, below = tried[lo], tried[lo - 1]
            parts.append(f"≥ {first:,}" if _is_point(first, points) or not _is_point(below, points)
                         else f"> {below:,}")
        if hi < len(tried) - 1:
            last, above = tried[hi], tried[hi + 1]
            parts.append(f"≤ {last:,}" if _is_point(last, points) or not _is_point(above, points)
                         else f"< {above:,}")
        return f"{name} " + " and ".join(parts) if parts else f"{name} = any value"


def _is_point(v: Any, points: set[Any]) -> bool:
    return any(Fraction(str(v)) == Fraction(p) if not isinstance(p, Fraction) else Fraction(str(v)) == p
               for p in points)
