"""Screening: rows of facts (`readers.Row`) × rules, a chunk at a time, through the compiled engine's
columnar `evaluate_many`; each chunk comes back as a `Chunk` (one Polars frame per rule, and the bad rows)
and adds to a `Summary`. Nothing is kept between chunks but the summary's counters.

A bond's missing facts and next fact follow the engine's single answer: a criterion whose required fact
is absent (or none of its alternatives given) misses it; the next fact is the one missed by the most
criteria, the rule's first in criterion order on a tie."""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from .readers import Row, RowError

CHUNK_ROWS = 20_000
VERDICTS = ("eligible", "ineligible", "undetermined")


class NoRuleMatched(LookupError):
    def __init__(self, pattern: str, known: list[str]):
        super().__init__(pattern)
        self.pattern = pattern
        self.known = known

    def __str__(self) -> str:
        return f"no rule matches '{self.pattern}'; known rules: {', '.join(self.known)}"


def select_rules(known: Iterable[str], patterns: str) -> list[str]:
    """Rule ids matching any of the comma-separated globs, in catalogue order; a glob matching none is
    an error naming the known ids."""
    known = sorted(known)
    chosen: list[str] = []
    for pattern in (p.strip() for p in patterns.split(",")):
        if not pattern:
            continue
        hits = fnmatch.filter(known, pattern)
        if not hits:
            raise NoRuleMatched(pattern, known)
        chosen += [h for h in hits if h not in chosen]
    if not chosen:
        raise NoRuleMatched(patterns, known)
    return sorted(chosen)


@dataclass
class _RulePlan:
    """What screening needs of one rule: its criteria (id, label, required facts) in order."""
    id: str
    criteria: list[str]
    requires: list[tuple[list[str], list[str]]]  # per criterion: facts it requires, alternatives it needs one of
    order: list[str]
    facts: frozenset[str]
    memo: dict[frozenset[str], tuple[list[str], str | None]] = field(default_factory=dict)

    def missing(self, given: frozenset[str]) -> tuple[list[str], str | None]:
        present = given & self.facts
        hit = self.memo.get(present)
        if hit is not None:
            return hit
        counter: Counter[str] = Counter()
        for requires, one_of in self.requires:
            missed = [f for f in requires if f not in present]
            if one_of and not present.intersection(one_of):
                missed.append(one_of[0])
            counter.update(missed)
        order = self.order
        missing = sorted(counter, key=order.index)
        nxt = max(missing, key=lambda f: (counter[f], -order.index(f))) if missing else None
        self.memo[present] = hit = (missing, nxt)
        return hit


@dataclass
class Chunk:
    """One chunk's answers: `frames[rule]` has row, id, verdict, a column per criterion (pass / fail /
    unknown), missing_facts, next_fact; `errors` has row, id, field, message (one per bad row)."""
    frames: dict[str, pl.DataFrame]
    errors: pl.DataFrame
    rows: int


ERROR_SCHEMA = {"row": pl.Int64, "id": pl.String, "field": pl.String, "message": pl.String}


class Summary:
    """Counts over every chunk screened: per rule the verdicts, the criteria failed and the facts missed
    (by bonds), the facts that are bonds' next fact; and the bad rows."""

    def __init__(self, plans: dict[str, _RulePlan]):
        self.plans = plans
        self.rows = 0
        self.bad_rows = 0
        self.verdicts = {r: Counter[str]() for r in plans}
        self.failed = {r: Counter[str]() for r in plans}
        self.missing = {r: Counter[str]() for r in plans}
        self.next_fact = {r: Counter[str]() for r in plans}
        self.errors_by_field: Counter[str] = Counter()

    def add(self, chunk: Chunk, patterns: dict[str, Counter[frozenset[str]]]) -> None:
        self.rows += chunk.rows
        self.bad_rows += chunk.errors.height
        self.errors_by_field.update(chunk.errors["field"].to_list())
        for rule_id, frame in chunk.frames.items():
            plan = self.plans[rule_id]
            self.verdicts[rule_id].update(dict(frame.group_by("verdict").len().iter_rows()))
            if plan.criteria:
                fails = frame.select([(pl.col(c) == "fail").sum().alias(c) for c in plan.criteria]).row(0)
                self.failed[rule_id].update({c: n for c, n in zip(plan.criteria, fails, strict=True) if n})
            for given, count in patterns[rule_id].items():
                missing, nxt = plan.missing(given)
                for f in missing:
                    self.missing[rule_id][f] += count
                if nxt:
                    self.next_fact[rule_id][nxt] += count

    def _first(self, rule_id: str, counter: Counter[str]) -> str | None:
        order = self.plans[rule_id].order
        if not counter:
            return None
        return max(counter, key=lambda f: (counter[f], -order.index(f) if f in order else 0))

    def to_dict(self, labels: dict[str, Any] | None = None, top: int = 5) -> dict[str, Any]:
        """The summary as JSON: per rule, counts and the most failed criteria, most missed facts and the
        fact to collect next (the most bonds' next fact); across the rules, the one fact to collect next."""
        labels = labels or {}
        rules = []
        overall: Counter[str] = Counter()
        for rule_id in self.plans:
            counts = {v: self.verdicts[rule_id].get(v, 0) for v in VERDICTS}
            overall.update(self.next_fact[rule_id])
            rules.append({
                "rule": rule_id, "label": labels.get(rule_id),
                **counts,
                "failing_criteria": [{"criterion": c, "label": labels.get((rule_id, c)), "bonds": n}
                                     for c, n in self.failed[rule_id].most_common(top)],
                "missing_facts": [{"fact": f, "label": labels.get(f), "bonds": n}
                                  for f, n in self.missing[rule_id].most_common(top)],
                "next_fact": self._first(rule_id, self.next_fact[rule_id]),
            })
        nxt = max(overall, key=lambda f: (overall[f], f)) if overall else None
        return {"rows": self.rows, "bad_rows": self.bad_rows,
                "bad_rows_by_field": dict(self.errors_by_field.most_common(top)),
                "rules": rules, "next_fact": nxt, "next_fact_bonds": overall.get(nxt, 0) if nxt else 0}


class Screener:
    """Screens chunks of rows against `rule_ids` on `as_of` with a `CompiledRules`."""

    def __init__(self, compiled: Any, rule_ids: list[str], as_of: dt.date):
        self.compiled, self.rule_ids, self.as_of = compiled, rule_ids, as_of
        engine = compiled.engine
        self.plans: dict[str, _RulePlan] = {}
        for rule_id in rule_ids:
            rule = engine.get_rule(rule_id)
            self.plans[rule_id] = _RulePlan(
                rule_id, [c.id for c in rule.criteria],
                [(list(c.requires), list(c.one_of)) for c in rule.criteria],
                [f for c in rule.criteria for f in (*c.requires, *c.one_of)], frozenset(rule.facts))
        self.summary = Summary(self.plans)
        self.criterion_columns = list(dict.fromkeys(c for p in self.plans.values() for c in p.criteria))

    def labels(self, lang: str) -> dict[Any, Any]:
        """Labels of the rules, their criteria and the input facts, for the summary."""
        engine = self.compiled.engine
        out: dict[Any, Any] = {}
        for rule_id in self.rule_ids:
            rule = engine.get_rule(rule_id)
            out[rule_id] = _label(rule.labels, lang)
            for c in rule.criteria:
                out[(rule_id, c.id)] = _label(c.labels, lang)
        for name, fact in engine.input_facts.items():
            out[name] = _label(fact.labels, lang)
        return out

    def screen(self, rows: list[Row]) -> Chunk:
        good = [r for r in rows if r.error is None]
        errors: dict[int, tuple[str, RowError]] = {r.number: (r.id, r.error) for r in rows if r.error is not None}
        bulk = self.compiled.evaluate_many(self.rule_ids, [r.facts for r in good], self.as_of)
        numbers = pl.Series("row", [r.number for r in good], dtype=pl.Int64)
        ids = pl.Series("id", [r.id for r in good], dtype=pl.String)
        engine_errors = set()
        for frame in bulk.frames.values():
            if frame.height and frame["error"].null_count() < frame.height:
                for fs, message in frame.filter(pl.col("error").is_not_null()).select("fact_set", "error").iter_rows():
                    if good[fs].number not in errors:
                        name, _, text = message.partition(": ")
                        errors[good[fs].number] = (good[fs].id, RowError(name or "facts", text or message))
                    engine_errors.add(fs)
        # bonds of a universe share a few patterns of given facts: missing facts are worked out per pattern
        patterns_seen: dict[tuple[str, ...], int] = {}
        raw = [patterns_seen.setdefault(tuple(r.facts), len(patterns_seen)) for r in good]  # type: ignore[arg-type]
        keep = pl.Series([i for i in range(len(good)) if i not in engine_errors], dtype=pl.Int64) \
            if engine_errors else None
        frames = {}
        patterns: dict[str, Counter[frozenset[str]]] = {}
        for rule_id, frame in bulk.frames.items():
            plan = self.plans[rule_id]
            pids = pl.Series("pattern", self._prepared_patterns(rule_id, good, raw, patterns_seen), dtype=pl.Int64)
            given = [frozenset(p) for p in patterns_seen]
            fs = frame["fact_set"] if keep is None else keep
            if keep is not None:
                frame = frame.filter(pl.col("fact_set").is_in(keep.implode()))
            at = pids.gather(fs)
            counts = dict(zip(*at.value_counts().to_dict(as_series=False).values(), strict=True))
            patterns[rule_id] = Counter({given[p]: n for p, n in counts.items()})
            answers = [plan.missing(g) for g in given]
            missing = pl.Series("missing_facts", [a[0] for a in answers], dtype=pl.List(pl.String))
            nxt = pl.Series("next_fact", [a[1] for a in answers], dtype=pl.String)
            frames[rule_id] = frame.select(
                numbers.gather(fs).alias("row"), ids.gather(fs).alias("id"),
                pl.col("verdict").cast(pl.String),
                *[pl.col(c).cast(pl.String) for c in plan.criteria],
                missing.gather(at), nxt.gather(at))
        err = sorted(errors.items())
        error_frame = pl.DataFrame({"row": [n for n, _ in err], "id": [i for _, (i, _) in err],
                                    "field": [e.field for _, (_, e) in err],
                                    "message": [e.message for _, (_, e) in err]}, schema=ERROR_SCHEMA)
        chunk = Chunk(frames, error_frame, len(rows))
        self.summary.add(chunk, patterns)
        return chunk

    def _prepared_patterns(self, rule_id: str, good: list[Row], raw: list[int],
                           patterns_seen: dict[tuple[str, ...], int]) -> list[int]:
        """Each row's pattern of facts as the rule reads them: where the engine's preparation adds a fact
        (one implied by another's value) or reads a name, the prepared facts' pattern, as `evaluate` sees it."""
        engine = self.compiled.engine
        prep = engine.preparation
        rule = engine.get_rule(rule_id)
        entity = prep.entity_facts.keys() & rule.facts.keys()
        implied = [(i.if_fact, i.then_fact) for i in prep.implications if i.then_fact in rule.facts]
        # patterns a preparation could change: an entity fact given, or an implication's fact given without
        # the fact it implies (`needs` is asked only of their rows)
        candidates = {n for pattern, n in patterns_seen.items() if entity.intersection(pattern) or any(
            a in pattern and b not in pattern for a, b in implied)}
        if not candidates:
            return raw
        out = raw
        for i, row in enumerate(good):
            if raw[i] not in candidates or not prep.needs(rule, row.facts):
                continue
            try:
                facts = engine.prepare(rule, row.facts).facts
            except ValueError:  # the engine's FactError: the row is a bad row already
                continue
            if out is raw:
                out = list(raw)
            out[i] = patterns_seen.setdefault(tuple(n for n, v in facts.items() if v is not None), len(patterns_seen))
        return out


def _label(labels: dict[str, str], lang: str) -> str | None:
    # Traditional Chinese falls back to Simplified where the KB has no zh-Hant label, then to English
    for tag in (lang, "zh", "en") if lang.startswith("zh") else (lang, "en"):
        if labels.get(tag):
            return labels[tag]
    return next(iter(labels.values()), None)


def chunked(rows: Iterable[Row], size: int = CHUNK_ROWS) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
