"""Facts (JSON values) → the terms the reference engine's `facts_to_graph` makes of them, as plain
hashable Python values. It mirrors the reference's checks; anything it rejects is handed back to
`RulesEngine.facts_to_graph` so that the error raised is the reference's own.

Terms: an IRI is a `str`; a literal is a tuple (tag, value): ('b', bool), ('i', int), ('d', Decimal),
('t', date), ('s', str)."""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from typing import Any

from ...common.ids import MAX_ID_LENGTH
from ...common.namespaces import KB, PREFIXES

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
_ISO = re.compile(r"[A-Z]{3}")
MAX_NUMBER = 10**15
KB_BASE = str(KB)
ISO_BASE = PREFIXES["iso4217"]


class Invalid(Exception):
    """The fact set is one the reference rejects (or might): let the reference say why."""


def _check_size(value: Any, max_string: int) -> None:
    texts = [value] if isinstance(value, str) else (
        [v for v in value.values() if isinstance(v, str)] if isinstance(value, dict) else [])
    if isinstance(value, dict) and len(value) > 10:
        raise Invalid
    for text in texts:
        if len(text) > max_string:
            raise Invalid


def term(fact: Any, value: Any, max_string: int) -> Any:
    kind = fact.kind
    _check_size(value, max_string)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise Invalid
        return ("b", value)
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_NUMBER:
            raise Invalid
        if fact.minimum is not None and value < fact.minimum:
            raise Invalid
        return ("i", value)
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise Invalid
        if not math.isfinite(value) or abs(value) > MAX_NUMBER:
            raise Invalid
        if fact.minimum is not None and value < fact.minimum:
            raise Invalid
        text = str(value) if isinstance(value, int) else format(Decimal(repr(value)) if isinstance(value, float)
                                                                else value, "f")
        return ("d", Decimal(text))
    if kind == "date":
        try:
            return ("t", dt.date.fromisoformat(str(value)))
        except ValueError:
            raise Invalid from None
    if kind == "concept":
        if not isinstance(value, str) or value not in fact.codes:
            raise Invalid
        return fact.codes[value]
    if kind == "entity":
        if not isinstance(value, str) or len(value) > MAX_ID_LENGTH or not _CODE.match(value):
            raise Invalid
        return KB_BASE + value
    if kind == "iso4217":
        if not isinstance(value, str) or not _ISO.fullmatch(value):
            raise Invalid
        return ISO_BASE + value
    if kind == "rating":
        if not isinstance(value, dict) or set(value) != {"agency", "grade"} or not all(
                isinstance(v, str) for v in value.values()):
            raise Invalid
        agency, grade = value["agency"], value["grade"]
        if agency not in fact.agencies:
            raise Invalid
        found = fact.grades.get((agency, grade))
        if found:
            return found
        if any(a == agency for a, _ in fact.grades):
            raise Invalid
        slug = re.sub(r"[^a-z0-9]+", "-", grade.lower()).strip("-")
        return f"{KB_BASE}rating-grade/{agency}-{slug}"
    if kind == "string":
        if not isinstance(value, str):
            raise Invalid
        return ("s", value)
    raise Invalid


def value_key(value: Any) -> Any:
    """A hashable key of a JSON value that keeps the types apart (True is not 1, 1 is not 1.0)."""
    if isinstance(value, dict):
        return ("o", tuple(sorted((k, value_key(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("l", tuple(value_key(v) for v in value))
    return (type(value), value)


class Normaliser:
    """Facts → {fact IRI: tuple of terms} for every declared input fact, memoised per value."""

    def __init__(self, input_facts: dict[str, Any], max_list: int, max_string: int):
        self.input_facts = input_facts
        self.max_list = max_list
        self.max_string = max_string
        self._memo: dict[tuple[str, Any], tuple[Any, ...]] = {}

    def values(self, name: str, value: Any) -> tuple[Any, ...]:
        try:
            k = (name, value_key(value))
            hit = self._memo.get(k)
        except TypeError:
            raise Invalid from None
        if hit is not None:
            return hit
        fact = self.input_facts[name]
        if fact.multiple:
            if not isinstance(value, list) or len(value) > self.max_list:
                raise Invalid
            out: list[Any] = []
            for item in value:
                t = term(fact, item, self.max_string)
                if t not in out:
                    out.append(t)
            result = tuple(out)
        else:
            result = (term(fact, value, self.max_string),)
        if len(self._memo) < 200_000:
            self._memo[k] = result
        return result

    def row(self, facts: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
        """Every fact given (not None), by fact IRI; raises Invalid where the reference may object."""
        if not isinstance(facts, dict):
            raise Invalid
        out = {}
        for name, value in facts.items():
            if value is None:
                continue
            fact = self.input_facts.get(name)
            if fact is None:
                raise Invalid
            out[fact.iri] = self.values(name, value)
        return out
