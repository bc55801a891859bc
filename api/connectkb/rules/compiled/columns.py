"""Fact sets → one column of value classes per input fact, for bulk evaluation.

A value class is a set of values every compiled check decides alike: one class per distinct value of
a fact, except for numbers, which checks only compare with the KB's constants (`Check.points`): there
a class is an open interval between two neighbouring points, or one point. Comparisons are exact:
a float is compared with a point as the reference does (`Decimal(repr(value))`), the float image of
the point deciding wherever it differs from the value (rounding is monotonic), the exact comparison
where they are equal. Class 0 is "absent" (no key, or null); INVALID marks a value the reference may
reject (that fact set is answered one at a time, as `evaluate` answers it).

Each class keeps the terms of one of its values (`table[class]`), which the compiled checks decide."""

from __future__ import annotations

import bisect
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .facts import MAX_NUMBER, Invalid, Normaliser, value_key

INVALID = -1
NUMBER_KINDS = ("integer", "decimal")


def exact(value: Any) -> Fraction:
    """The number the reference compares: Decimal(repr(float)) for a float, the int itself."""
    return Fraction(Decimal(repr(value))) if isinstance(value, float) else Fraction(value)


class NumberClasses:
    """Classes of a single-valued number fact against sorted exact points."""

    def __init__(self, points: list[Any]):
        self.points = sorted({Fraction(p) for p in points})
        self.floats = [float(p) for p in self.points]

    def of(self, value: Fraction) -> int:
        """1 + 2i for below point i (i = 0…k), 2 + 2i for equal to point i."""
        i = bisect.bisect_left(self.points, value)
        if i < len(self.points) and self.points[i] == value:
            return 2 + 2 * i
        return 1 + 2 * i

    def count(self) -> int:
        return 2 * len(self.points) + 2


def valid_number(kind: str, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int) and abs(value) <= MAX_NUMBER
    if isinstance(value, int):
        return abs(value) <= MAX_NUMBER
    return isinstance(value, float) and math.isfinite(value) and abs(value) <= MAX_NUMBER


class FactColumn:
    """One fact's value classes, built batch by batch (class ids stay the same across batches):
    `add(values)` gives the class of each value; `table[class]` the terms of one value of it."""

    def __init__(self, normaliser: Normaliser, name: str, points: list[Any] | None):
        self.normaliser, self.name = normaliser, name
        self.fact = normaliser.input_facts[name]
        self.numbers = NumberClasses(points) if points is not None and self.fact.kind in NUMBER_KINDS \
            and not self.fact.multiple else None
        self.table: list[tuple[Any, ...] | None] = [None] * (self.numbers.count() if self.numbers else 1)
        self.seen: dict[Any, int] = {}  # tuples: a list of strings; ('rating', agency, grade); else _key
        self.by_str: dict[Any, int] = {None: 0}

    @property
    def size(self) -> int:
        return len(self.table)

    def add(self, values: list[Any]) -> list[int]:
        return self._numbers(values) if self.numbers is not None else self._generic(values)

    def _generic(self, values: list[Any]) -> list[int]:
        """One class per distinct value (type-exact: True is not 1, 1 is not 1.0)."""
        seen, by_str = self.seen, self.by_str
        try:  # every value a string seen before, or absent: one look-up each
            fast = list(map(by_str.get, values))
            if None not in fast:
                return fast
        except TypeError:  # lists, objects
            pass
        ids: list[int] = []
        append = ids.append
        for v in values:
            if v is None:
                append(0)
                continue
            c = v.__class__
            if c is str:
                cls = by_str.get(v)
                if cls is None:
                    cls = by_str[v] = self._new(v)
                append(cls)
                continue
            if c is list:
                k = tuple(v)
                if not all(x.__class__ is str for x in k):
                    k = _key_or_none(v)
            elif c is dict and len(v) == 2 and (a := v.get("agency")).__class__ is str and \
                    (g := v.get("grade")).__class__ is str:
                k = ("rating", a, g)
            elif c in (int, float, bool):
                k = (c, v)
            else:
                k = _key_or_none(v)
            if k is None:
                append(INVALID)
                continue
            cls = seen.get(k)
            if cls is None:
                cls = self._new(v)
                if len(seen) < 1_000_000:
                    seen[k] = cls
            append(cls)
        return ids

    def _new(self, v: Any) -> int:
        try:
            self.table.append(self.normaliser.values(self.name, v))
        except Invalid:
            return INVALID
        return len(self.table) - 1

    def _numbers(self, values: list[Any]) -> list[int]:
        numbers, table, kind = self.numbers, self.table, self.fact.kind
        floats = numbers.floats
        ids: list[int] = []
        append = ids.append
        for v in values:
            if v is None:
                append(0)
                continue
            c = v.__class__
            if c is float:
                if not -MAX_NUMBER <= v <= MAX_NUMBER or kind == "integer":  # NaN, ±inf fail too
                    append(INVALID)
                    continue
            elif c is not int or not -MAX_NUMBER <= v <= MAX_NUMBER:
                append(INVALID)
                continue
            i = bisect.bisect_left(floats, v)
            # where the float images agree, decide exactly
            cls = numbers.of(exact(v)) if i < len(floats) and floats[i] == v else 1 + 2 * i
            if table[cls] is None:
                try:
                    table[cls] = self.normaliser.values(self.name, v)
                except Invalid:
                    append(INVALID)
                    continue
            append(cls)
        return ids


def _key_or_none(v: Any) -> Any:
    try:
        k = value_key(v)
        hash(k)
        return k
    except TypeError:
        return None
