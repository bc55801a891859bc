"""Generated fact sets for a rule, read from the rule's input facts and KB slice (never named): random
values over each fact's domain, absent facts, the boundary values of every number and duration the
slice holds, and as-of dates on both sides of every date it holds."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import re
from decimal import Decimal
from typing import Any

from rdflib import XSD, Literal, Namespace, URIRef

ORG = Namespace("http://www.w3.org/ns/org#")
KB = "https://w3id.org/connectkb/id/"


def _months(duration: str) -> int | None:
    m = re.fullmatch(r"P(?:(\d+)Y)?(?:(\d+)M)?", duration)
    if not m or not any(m.groups()):
        return None
    return int(m.group(1) or 0) * 12 + int(m.group(2) or 0)


class FactGenerator:
    def __init__(self, rule: Any, seed: int):
        self.rule = rule
        self.rng = random.Random(seed)
        numbers: set[Decimal] = set()
        months: set[int] = set()
        dates: set[dt.date] = set()
        for graph in (rule.base, rule.shapes):
            for o in graph.objects():
                if not isinstance(o, Literal):
                    continue
                if o.datatype in (XSD.integer, XSD.decimal, XSD.int, XSD.double):
                    with contextlib.suppress(ArithmeticError):
                        numbers.add(Decimal(str(o)))
                elif o.datatype == XSD.date:
                    dates.add(dt.date.fromisoformat(str(o)))
                elif o.datatype in (XSD.gYearMonth, XSD.gYear) and re.fullmatch(r"\d{4}(-\d{2})?", str(o)):
                    # an arrangement's start period: checks compare the as-of year, or its text, with it
                    lex = str(o)
                    dates.add(dt.date(int(lex[:4]), int(lex[5:7]) if len(lex) > 4 else 1, 1))
                    dates.add(dt.date(int(lex[:4]), 1, 1))
                elif o.datatype == XSD.duration and (m := _months(str(o))) is not None:
                    months.add(m)
        self.numbers = sorted(numbers)
        self.months = sorted(months)
        self.dates = sorted(dates)
        self.members = sorted({str(m)[len(KB):] for m in rule.base.objects(None, ORG.member)
                               if isinstance(m, URIRef) and str(m).startswith(KB)})

    def as_of(self) -> dt.date:
        r = self.rng
        if self.dates and r.random() < 0.8:
            return r.choice(self.dates) + dt.timedelta(days=r.choice((-1, 0, 1)))
        return dt.date(2012, 8, 1) + dt.timedelta(days=r.randint(-3000, 6000))

    def _number(self, integer: bool) -> Any:
        r = self.rng
        if self.numbers and r.random() < 0.6:
            n = r.choice(self.numbers)
            step = 1 if integer else r.choice((1, Decimal("0.01"), Decimal("0.000001")))
            v = n + r.choice((-1, 0, 1)) * step
            return int(v) if integer else (int(v) if r.random() < 0.3 and v == int(v) else float(v))
        return r.randint(-2, 60) if integer else round(r.uniform(-1, 12), r.choice((0, 1, 2, 3, 7)))

    def _years(self) -> Any:
        r = self.rng
        if self.months and r.random() < 0.6:
            m = r.choice(self.months)
            return float(Decimal(m) / 12 + r.choice((-1, 0, 1)) * r.choice((Decimal("0.000001"), Decimal("0.01"))))
        return self._number(False)

    def _date(self, as_of: dt.date) -> str:
        r = self.rng
        if self.months and r.random() < 0.7:
            m = r.choice(self.months) + r.choice((-1, 0, 1))
            y, mo = divmod(as_of.month - 1 + m, 12)
            day = min(as_of.day, 28) if r.random() < 0.5 else as_of.day
            try:
                d = dt.date(as_of.year + y, mo + 1, day)
            except ValueError:
                d = dt.date(as_of.year + y, mo + 1, 28)
            return (d + dt.timedelta(days=r.choice((-1, 0, 1)))).isoformat()
        return (as_of + dt.timedelta(days=r.randint(-400, 4000))).isoformat()

    def value(self, fact: Any, as_of: dt.date) -> Any:
        r = self.rng
        kind = fact.kind
        if kind == "boolean":
            return r.random() < 0.5
        if kind == "integer":
            return self._number(True)
        if kind == "decimal":
            return self._years() if "maturity" in fact.iri and self.months else self._number(False)
        if kind == "date":
            return self._date(as_of)
        if kind == "concept":
            codes = sorted(fact.codes)
            if fact.multiple:
                return r.sample(codes, r.randint(0, min(3, len(codes))))
            return r.choice(codes)
        if kind == "entity":
            # ids, and names as users type them (codes and labels in any case, en or zh, a near miss,
            # a bank whose group the sources leave unstated)
            pool = [*self.members, "not-in-the-kb-bank", "boc", "hsbc", "HSBC", "汇丰银行", "Bank of China", "hbsc",
                    "bochk", "中银香港"]
            if fact.multiple:
                return r.sample(pool, r.randint(0, min(3, len(pool))))
            return r.choice(pool)
        if kind == "iso4217":
            return r.choice(("CNY", "CNY", "USD", "HKD"))
        if kind == "rating":
            scaled = {a for a, _ in fact.grades}
            unscaled = sorted(fact.agencies - scaled)
            if unscaled and r.random() < 0.15:
                return {"agency": r.choice(unscaled), "grade": r.choice(("AA+", "BBB-", "B"))}
            agency, grade = r.choice(sorted(fact.grades))
            return {"agency": agency, "grade": grade}
        return "text"

    def invalid(self, fact: Any) -> Any:
        return self.rng.choice(({"x": 1}, "not-a-code!", 1.5 if fact.kind == "integer" else "bad", [1, 2], True
                                if fact.kind != "boolean" else "yes"))

    def fact_set(self) -> tuple[dict[str, Any], dt.date]:
        r = self.rng
        as_of = self.as_of()
        facts: dict[str, Any] = {}
        for name, fact in sorted(self.rule.facts.items()):
            roll = r.random()
            if roll < 0.15:
                continue
            if roll < 0.18:
                facts[name] = None
            elif roll < 0.19:
                facts[name] = self.invalid(fact)
            else:
                facts[name] = self.value(fact, as_of)
        return facts, as_of
