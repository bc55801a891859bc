"""What would make it eligible: the smallest sets of changes to the input facts (at most MAX_CHANGES)
after which every criterion of a rule passes, searched on the compiled engine.

Nothing here knows a rule. The values tried for a fact come from its declaration and the KB: a code
list's codes, the entities of its class and the role holders the rule's slice names, a rating scale's
grades, and for a number the points the compiled checks compare it with (a KB threshold, a range bound)
with a value on either side — one value per class of values that decide alike. A step says which
criterion it satisfies, with that criterion's citations. Where no change of the facts helps on the
as-of date (the measure was not yet in force), the answer says so and gives the first later date on
which the facts, or a change of them, would.

A search decides many fact sets, each the one given with a fact or three changed, so it decides them
incrementally: the facts given are prepared and normalised once, a changed value once (and kept: the
KB's names and codes make its terms, not the request), and a change set decides again only the criteria
that read a fact it changes, each outcome kept by the terms the criterion reads (and the as-of date,
where the criterion reads it). Where the preparation may carry a change to another fact (an implied
fact), the changed facts are prepared whole, as an evaluation prepares them (and kept, by the linked
facts given and changed). What the KB gives a rule's facts (the values tried, the checks' points) is
read at first use.

A change set that cannot pass is counted as an evaluation but not decided: one that leaves unread a
criterion failing as given, or changes a fact to a value failing a criterion that no other fact of
the set reads. So `evaluations` (and the cut at MAX_EVALUATIONS) means what it meant when every change
set was decided; `max_work` bounds the work actually done."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from fractions import Fraction
from typing import Any

from rdflib import URIRef

from ..common.dates import add_months
from ..common.ids import to_id
from ..common.namespaces import PREFIXES
from .compiled.facts import Invalid, value_key
from .compiled.kinds import ORG
from .engine import FactError

MAX_CHANGES = 3
MAX_EVALUATIONS = 5_000  # the search stops there and says it was cut short
MAX_OPTIONS = 10
MAX_LATER_DATES = 32
MAX_REMEMBERED = 100_000  # outcomes and changed values' terms kept across searches, then forgotten
_STEP = Decimal("0.0001")
_UNSEEN = object()

Terms = dict[str, Any]  # fact IRI → its terms (a tuple), or None where the fact is not given
Memo = dict[tuple[Any, ...], int]  # the terms a criterion reads → its outcome
Day = tuple[dt.date, int, list[int], list[Memo]]  # as-of date, interval, outcomes as given, where kept


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
        self._indexes: dict[Any, _RuleIndex] = {}  # by compiled rule
        self.terms: dict[tuple[str, Any], Terms | None] = {}  # (fact, value key) → terms; None: refused
        self.remembered = 0  # entries of `terms` and of the outcomes kept (roughly, under threads)

    def index(self, cr: Any) -> _RuleIndex:
        got = self._indexes.get(cr)
        if got is None:
            got = self._indexes[cr] = _RuleIndex(self, cr)
        return got

    def remember(self) -> None:
        """Count an entry kept across searches; past the bound, forget them all (they are found again)."""
        self.remembered += 1
        if self.remembered > MAX_REMEMBERED:
            self.remembered = 0
            self.terms.clear()
            for ix in list(self._indexes.values()):
                ix.outcomes.clear()
                ix.linked_terms.clear()
                ix.dates_tried.clear()

    def value_terms(self, rule: Any, fact: Any, value: Any) -> Terms | None:
        """A changed value's terms as an evaluation makes them (a name read as its entity's id); None
        where it is not accepted. The preparation reads such a value alone (the fact is not linked)."""
        got: Any
        try:
            key: Any = (fact.name, value_key(value))
            got = self.terms.get(key, _UNSEEN)
        except TypeError:  # not a JSON value: decided, not kept
            key, got = None, _UNSEEN
        if got is not _UNSEEN:
            return got
        normaliser = self.compiled.normaliser
        try:
            prepared = self.rules.prepare(rule, {fact.name: value}).facts.get(fact.name)
            got = {fact.iri: normaliser.row({fact.name: prepared}).get(fact.iri)}
        except (FactError, Invalid):
            got = None
        if key is not None:
            self.terms[key] = got
            self.remember()
        return got

    def tried(self, cr: Any, fact: Any) -> tuple[tuple[Any, Terms | None], ...]:
        """The values tried for a fact that takes one value (not a date), with their terms."""
        known = self.index(cr).tried
        if fact.name not in known:
            known[fact.name] = tuple((v, self.value_terms(cr.rule, fact, v)) for v in self._values(cr, fact))
        return known[fact.name]

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
        points = self.index(cr).points
        if iri not in points:
            out = []
            for crit in cr.criteria:
                for check in crit.checks:
                    got = check.points(iri) if iri in check.reads else None
                    out.extend(got or [])
            points[iri] = tuple(sorted(set(out)))
        return list(points[iri])

    def _values(self, cr: Any, fact: Any) -> list[Any]:
        """The values tried for a fact of any kind but a date (whose values follow the as-of date)."""
        known = self.index(cr).values
        if fact.name not in known:
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
                out = self._currencies(cr)
            known[fact.name] = tuple(out)
        # a rating afresh each time: the values tried end up in answers, which a caller may change
        return [dict(v) if isinstance(v, dict) else v for v in known[fact.name]]

    def _currencies(self, cr: Any) -> list[str]:
        """The currencies the rule's slice names (read once for all its currency facts: a scan of it)."""
        ix = self.index(cr)
        if ix.currencies is None:
            prefix = PREFIXES["iso4217"]
            ix.currencies = sorted({str(o)[len(prefix):] for o in cr.rule.base.objects() if str(o).startswith(prefix)})
        return ix.currencies

    def candidates(self, cr: Any, fact: Any, current: Any, as_of: dt.date) -> list[Any]:
        """The values tried for `fact` (its current value excluded)."""
        out = self._dates(cr, fact, as_of) if fact.kind == "date" else self._values(cr, fact)
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
        known = self.index(cr).months
        if fact.iri not in known:
            months: set[int] = set()
            for crit in cr.criteria:
                for check in crit.checks:
                    if fact.iri in check.reads and check.dated:
                        for iri in check.reads:
                            months.update(round(p * 12) for p in (check.points(iri) or []))
            known[fact.iri] = tuple(months)
        out = set()
        for m in known[fact.iri]:
            for dm in (-1, 0, 1):
                day = add_months(as_of, int(m) + dm)
                if day is not None:
                    out.update(day + dt.timedelta(days=d) for d in (-1, 0, 1))
        return sorted(d.isoformat() for d in out)

    # ---------------------------------------------------------------- search
    def search(self, rule_id: str, facts: dict[str, Any], as_of: dt.date, lang: str = "en",
               max_evaluations: int = MAX_EVALUATIONS, max_work: int | None = None) -> dict[str, Any]:
        """The answer's `counterfactuals`: a search cut short at `max_evaluations` fact sets, which it says.
        `max_work` bounds what it may cost instead (fact sets decided, values classified, combinations
        laid out: roughly its time): past it, nothing is answered (SearchTooLong), so that a caller can try
        it where a long search would hold others up, and run it elsewhere if it does not end there."""
        rule = self.rules.get_rule(rule_id)
        cr = self.compiled.compiled.get(rule_id)
        if cr is None:
            return {"engine": "reference", "options": [], "searched": False,
                    "reason": f"rule {rule_id} is served by the reference engine ({self.compiled.reasons[rule_id]}); "
                              "the search runs on the compiled engine only"}
        run = _Run(self, cr, rule, facts, max_evaluations, max_work)
        if run.codes((), as_of) is None:
            return {"engine": "compiled", "options": [], "searched": False,
                    "reason": "a fact is outside what the compiled engine reads; the search was not run"}
        options, cut = run.at(as_of)
        result: dict[str, Any] = {"engine": "compiled", "searched": True, "max_changes": MAX_CHANGES,
                                  "varied_facts": list(run.varied), "not_varied": list(run.not_varied)}
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


class SearchTooLong(RuntimeError):
    """A search went past the work its caller allowed it (`max_work`)."""


class _RuleIndex:
    """What the search reads of one compiled rule whatever the request, built at first use: the facts
    each criterion reads, the values tried for each fact, and the outcomes decided so far."""

    def __init__(self, owner: Counterfactuals, cr: Any):
        rule = cr.rule
        self.by_iri = {f.iri: f.name for f in rule.facts.values()}
        self.iri_of = {n: f.iri for n, f in rule.facts.items()}
        # a fact the KB implies another from (an issuer type implies a bond type) is read where that one is
        implied_by: dict[str, set[str]] = {}
        self.linked: set[str] = set()  # facts whose change the preparation may carry to another fact
        for imp in getattr(getattr(owner.rules, "preparation", None), "implications", []):
            if imp.if_fact in rule.facts:
                implied_by.setdefault(imp.then_fact, set()).add(imp.if_fact)
            if imp.if_fact in rule.facts or imp.then_fact in rule.facts:
                self.linked.update((imp.if_fact, imp.then_fact))
        self.reads: list[set[str]] = []  # per criterion: the names of the facts it reads or needs
        # per criterion, the IRIs whose terms decide it (`CompiledRule.outcome`): what its checks read and
        # the facts it needs given; per IRI, the criteria a change of it decides again
        self.keys: list[tuple[str, ...]] = []
        self.readers: dict[str, list[int]] = {}
        self.needs: list[list[tuple[str, str]]] = []  # per criterion: the facts it needs given, with their IRIs
        for i, crit in enumerate(cr.criteria):
            needs = {*crit.c.requires, *crit.c.one_of}
            names = {self.by_iri[iri] for iri in crit.reads if iri in self.by_iri} | needs
            self.reads.append(names | {src for n in names for src in implied_by.get(n, ())})
            self.needs.append(sorted((n, self.iri_of[n]) for n in needs if n in self.iri_of))
            iris = tuple(sorted({*crit.reads, *(iri for _, iri in self.needs[i])}))
            self.keys.append(iris)
            for iri in iris:
                self.readers.setdefault(iri, []).append(i)
        self.varied = sorted(n for n, f in rule.facts.items() if f.kind != "string")
        self.not_varied = sorted(set(rule.facts) - set(self.varied))
        self.values: dict[str, tuple[Any, ...]] = {}  # fact name → the values tried (but a date's)
        self.points: dict[str, tuple[Any, ...]] = {}  # fact IRI → the points the checks compare it with
        self.months: dict[str, tuple[int, ...]] = {}  # fact IRI → the year thresholds of the dated checks
        self.tried: dict[str, tuple[tuple[Any, Terms | None], ...]] = {}  # fact name → values tried, terms
        self.currencies: list[str] | None = None
        self.linked_iris = frozenset(self.iri_of[n] for n in self.linked if n in self.iri_of)
        # (linked facts given, changes of linked facts) → the terms of linked facts they make (`_Run._linked`)
        self.linked_terms: dict[tuple[Any, ...], Terms | None] = {}
        self.dates_tried: dict[tuple[str, dt.date], tuple[tuple[Any, Terms | None], ...]] = {}  # by as-of date
        # (criterion, as-of date; None for a criterion that does not read the date) → its outcomes
        self.outcomes: dict[tuple[int, dt.date | None], Memo] = {}


class _Run:
    """One search: a fact set under one compiled rule."""

    def __init__(self, owner: Counterfactuals, cr: Any, rule: Any, facts: dict[str, Any], limit: int,
                 max_work: int | None):
        self.owner, self.cr, self.rule, self.facts, self.limit = owner, cr, rule, facts, limit
        self.work, self.max_work = 0, max_work
        ix = self.ix = owner.index(cr)
        self.reads, self.varied, self.not_varied = ix.reads, ix.varied, ix.not_varied
        self.evaluations = 0
        self.normaliser = owner.compiled.normaliser
        # a value tried → the others that decided alike, with their terms
        self.alike: dict[tuple[str, str], list[tuple[Any, Terms]]] = {}
        self.prepared: dict[str, Any] | None = None  # the facts given, prepared (None: not accepted)
        self.row: dict[str, tuple[Any, ...]] = {}
        try:
            self.prepared = owner.rules.prepare(rule, facts).facts
            self.row = self.normaliser.row(self.prepared)
        except (FactError, Invalid):
            self.prepared = None
        self.days: dict[dt.date, Day] = {}
        self.values_tried: dict[str, list[tuple[Any, Terms | None]]] = {}  # by fact (not a date's)
        # by fact: its values' classes, and the evaluations they counted, where no date decides them
        self.timeless_classes: dict[str, tuple[dict[tuple[int, ...], list[tuple[Any, Terms]]], int]] = {}
        try:  # the linked facts as given: what the terms of a change of them follow from, with the change
            self.given_linked: Any = tuple((n, value_key(facts.get(n))) for n in sorted(ix.linked))
        except TypeError:
            self.given_linked = object()  # not a JSON value: a key no other search shares

    def codes(self, changes: tuple[tuple[str, Any], ...], day: dt.date) -> list[int] | None:
        """Each criterion's outcome with the changes made, the facts prepared as an evaluation prepares
        them (names resolved, implied facts added); None where a changed value is not accepted."""
        changed = self._changed(changes)
        return None if changed is None else self._outcomes(changed, self._day(day))

    def _changed(self, changes: tuple[tuple[str, Any], ...]) -> Terms | None:
        """The terms where the changes make the facts differ from those given; None where a changed
        value is not accepted."""
        ix = self.ix
        if self.prepared is None or any(name not in ix.iri_of for name, _ in changes):
            return self._prepared(changes)
        changed: Terms = {}
        linked = tuple(change for change in changes if change[0] in ix.linked)
        if linked:
            got = self._linked(linked)
            if got is None:
                return None
            changed.update(got)
        for name, value in changes:
            if name not in ix.linked:  # after the linked facts': a name they re-read is this change's
                terms = self.owner.value_terms(self.rule, self.rule.facts[name], value)
                if terms is None:
                    return None
                changed.update(terms)
        return changed

    def _single(self, fact: Any, value: Any) -> Terms | None:
        """`_changed` of a change of one fact."""
        if self.prepared is None:
            return self._prepared(((fact.name, value),))
        if fact.name in self.ix.linked:
            return self._linked(((fact.name, value),))
        return self.owner.value_terms(self.rule, fact, value)

    def _linked(self, changes: tuple[tuple[str, Any], ...]) -> Terms | None:
        """`_prepared` of changes of linked facts only, kept across searches: an implication reads and sets
        linked facts alone, so their terms follow from these changes and the linked facts given, whatever
        else a fact set holds (the facts given being accepted: `self.prepared`)."""
        ix = self.ix
        try:
            key: Any = (self.given_linked, tuple((name, value_key(value)) for name, value in changes))
        except TypeError:  # not a JSON value: decided, not kept
            return self._prepared(changes)
        got = ix.linked_terms.get(key, _UNSEEN)
        if got is _UNSEEN:
            got = self._prepared(changes)
            if got is not None:  # a name given elsewhere is read again alike: its terms are the given ones
                got = {iri: terms for iri, terms in got.items() if iri in ix.linked_iris}
            ix.linked_terms[key] = got
            self.owner.remember()
        return got

    def _prepared(self, changes: tuple[tuple[str, Any], ...]) -> Terms | None:
        """As `_changed`, the changed facts prepared with all the others (an implication may add a fact
        or no longer add it)."""
        given = self.prepared if self.prepared is not None else {}  # none accepted as given: all differ
        try:
            prepared = self.owner.rules.prepare(self.rule, {**self.facts, **dict(changes)}).facts
            out: Terms = {}
            for name in prepared.keys() | given.keys():
                value = prepared.get(name)
                if value is not given.get(name):  # the same object: the same terms
                    fact = self.normaliser.input_facts.get(name)
                    if fact is not None:
                        out[fact.iri] = self.normaliser.row({name: value}).get(fact.iri)
                    elif value is not None:
                        raise Invalid
        except (FactError, Invalid):
            return None
        return out

    def _day(self, day: dt.date) -> Day:
        """The as-of date, its interval, each criterion's outcome on the facts given, and where each
        criterion's outcomes on that date are kept (one place for all dates where it does not read it)."""
        got = self.days.get(day)
        if got is None:
            iv = self.cr.ctx.interval(day)
            outcomes = self.ix.outcomes
            memos = [outcomes.setdefault((i, day if crit.dated else None), {})
                     for i, crit in enumerate(self.cr.criteria)]
            row = self.row
            base = []
            for i, memo in enumerate(memos):
                key = tuple(map(row.get, self.ix.keys[i]))
                hit = memo.get(key)
                base.append(self._decide(i, row, key, day, iv, memo) if hit is None else hit)
            got = self.days[day] = (day, iv, base, memos)
        return got

    def _decide(self, i: int, row: Terms, key: tuple[Any, ...], day: dt.date, iv: int, memo: Memo) -> int:
        """Criterion i's outcome on `row` (whose terms it reads are `key`), kept in `memo`."""
        if None in row.values():
            row = {k: v for k, v in row.items() if v is not None}
        # of the facts given, the criterion asks only whether those it needs are
        present = {n for n, iri in self.ix.needs[i] if iri in row}
        hit = memo[key] = self.cr.outcome(i, row, present, day, iv)
        self.owner.remember()
        return hit

    def _spend(self, units: int = 1) -> None:
        self.work += units
        if self.max_work is not None and self.work > self.max_work:
            raise SearchTooLong(f"the search went past {self.max_work} units of work")

    def _outcomes(self, changed: Terms, state: Day) -> list[int]:
        """Each criterion's outcome (as `CompiledRule.outcomes`) with `changed` made: one evaluation."""
        self._spend()
        day, iv, base, memos = state
        out = base.copy()
        if changed:
            row = {**self.row, **changed}  # a fact no longer given is None, as `get` finds one never given
            get = row.get
            readers, keys = self.ix.readers, self.ix.keys
            if len(changed) == 1:
                touched: Any = readers.get(next(iter(changed)), ())
            else:
                touched = {i for iri in changed for i in readers.get(iri, ())}
            for i in touched:
                key = tuple(map(get, keys[i]))
                hit = memos[i].get(key)
                out[i] = self._decide(i, row, key, day, iv, memos[i]) if hit is None else hit
        self.evaluations += 1
        return out

    def eligible_as_given(self, day: dt.date) -> bool:
        codes = self.codes((), day)
        return codes is not None and not any(codes)

    def at(self, day: dt.date) -> tuple[list[tuple[tuple[str, Any], ...]], bool]:
        """The smallest change sets that make every criterion pass on `day`; and whether the search was cut."""
        if self.evaluations >= self.limit:
            return [], True
        base = self.codes((), day)
        if base is None:
            return [], False
        bad = [i for i, c in enumerate(base) if c]
        if not bad:
            return [()], False
        names = sorted(set().union(*(self.reads[i] for i in bad)) & set(self.varied))
        state = self._day(day)
        # one value per class: values of a fact whose single change leaves every criterion alike; with the
        # criteria that fail when it alone is changed (those of them that read it, for an unlinked fact)
        ix = self.ix
        changes: dict[str, list[tuple[Any, Terms, frozenset[int]]]] = {}
        for name in names:
            seen = self._classes(self.rule.facts[name], state)
            deciding = range(len(base)) if name in ix.linked else ix.readers.get(ix.iri_of[name], ())
            changes[name] = [(*members[0], frozenset(i for i, code in zip(deciding, key, strict=True) if code))
                             for key, members in seen.items()]
            for members in seen.values():
                self.alike[(name, repr(members[0][0]))] = members[1:]
        # the criteria a change of a fact may decide again: those reading it; for a linked fact, those
        # reading any linked fact (the preparation may change them all)
        linked_readers = frozenset(i for n in ix.linked if n in ix.iri_of for i in ix.readers.get(ix.iri_of[n], ()))
        touch = {n: linked_readers if n in ix.linked else frozenset(ix.readers.get(ix.iri_of[n], ())) for n in names}
        # the criteria that do not pass as given, as bits: those a change of each fact may decide again
        covers = {n: sum(1 << j for j, i in enumerate(bad) if i in touch[n]) for n in names}
        everything = (1 << len(bad)) - 1
        sizes = {n: len(changes[n]) for n in names}
        # how many change sets each size makes, where each is accepted (no two linked facts change together)
        by_size = _change_sets(list(sizes.values())) if len(ix.linked.intersection(names)) < 2 else None
        for size in range(1, MAX_CHANGES + 1):
            found: list[tuple[tuple[str, Any], ...]] = []
            if by_size is not None and self.evaluations + by_size[size] < self.limit:
                # no cut within this size: the change sets of a combination that leaves a criterion failing
                # as given unread (none passes) are counted at once, the others laid out
                self._spend()
                laid_out = 0
                for combo in itertools.combinations(names, size):
                    covered = 0
                    for n in combo:
                        covered |= covers[n]
                    if covered == everything:
                        self._spend()
                        laid_out += math.prod(sizes[n] for n in combo)
                        found += self._lay_out(combo, changes, touch, state)
                self.evaluations += by_size[size] - laid_out
            else:
                cut = self._one_by_one(size, names, changes, touch, covers, everything, state, found)
                if cut:
                    return found, True
            if found:
                return found[:MAX_OPTIONS], False
        return [], False

    def _lay_out(self, combo: tuple[str, ...], changes: dict[str, list[tuple[Any, Terms, frozenset[int]]]],
                 touch: dict[str, frozenset[int]], state: Day) -> list[tuple[tuple[str, Any], ...]]:
        """The change sets of a combination that reads every criterion failing as given, whose count cannot
        reach the cut and which the preparation accepts: those not worth deciding counted, the others
        decided in their order; those that pass."""
        own = [n not in self.ix.linked for n in combo]
        # per fact, the values not worth deciding: an unlinked fact's value whose change fails a criterion
        # that none of the other facts changed reads fails with them too
        reaches = [frozenset().union(*(touch[m] for m in combo if m != n)) for n in combo]
        kept = [[pick for pick in changes[n] if not (mine and not pick[2] <= reach)]
                for n, mine, reach in zip(combo, own, reaches, strict=True)]
        self.evaluations += math.prod(len(changes[n]) for n in combo) - math.prod(map(len, kept))
        return self._passing(combo, itertools.product(*kept), not self.ix.linked.intersection(combo), state)

    def _one_by_one(self, size: int, names: list[str], changes: dict[str, list[tuple[Any, Terms, frozenset[int]]]],
                    touch: dict[str, frozenset[int]], covers: dict[str, int], everything: int, state: Day,
                    found: list[tuple[tuple[str, Any], ...]]) -> bool:
        """The change sets of a size, combination by combination, up to the cut (whether it came): where
        two linked facts change together (a set the preparation may refuse is not counted), or where the
        cut may come within the size. What passes is added to `found`."""
        ix = self.ix
        for combo in itertools.combinations(names, size):
            self._spend()
            # a change of several facts makes each one's terms, unless the preparation links them
            apart = not ix.linked.intersection(combo)
            # a value of a class is accepted alone, so only two linked facts changed together may not be
            accepted_alone = apart or len(ix.linked.intersection(combo)) < 2
            total = math.prod(len(changes[n]) for n in combo)
            covered = 0
            for n in combo:
                covered |= covers[n]
            # a criterion that does not pass as given and reads none of the facts changed: none passes
            hopeless = covered != everything
            if hopeless and accepted_alone:  # each change set counted, up to the cut, none decided
                if total and self.evaluations + total > self.limit:
                    self.evaluations = max(self.evaluations, self.limit)
                    return True
                self.evaluations += total
                continue
            if accepted_alone and self.evaluations + total < self.limit:
                found += self._lay_out(combo, changes, touch, state)
                continue
            own = [n not in ix.linked for n in combo]
            reaches = [frozenset().union(*(touch[m] for m in combo if m != n)) for n in combo]
            for picks in itertools.product(*(changes[n] for n in combo)):
                if self.evaluations >= self.limit:
                    return True
                if hopeless or any(mine and not fails <= reach
                                   for (_, _, fails), mine, reach in zip(picks, own, reaches, strict=True)):
                    # not decided, but counted as `codes` counts it: where the preparation accepts it
                    linked = tuple((n, v) for n, (v, _, _), mine in zip(combo, picks, own, strict=True) if not mine)
                    if accepted_alone or self._linked(linked) is not None:
                        self.evaluations += 1
                    continue
                found += self._passing(combo, (picks,), apart, state)
        return False

    def _passing(self, combo: tuple[str, ...], picks: Any, apart: bool,
                 state: Day) -> list[tuple[tuple[str, Any], ...]]:
        """Of the change sets `picks` (a value and its terms per fact of `combo`), each decided (one
        evaluation, where accepted), those after which every criterion passes."""
        out = []
        for pick in picks:
            change = tuple((n, v) for n, (v, _, _) in zip(combo, pick, strict=True))
            if apart:
                codes: list[int] | None = self._outcomes({k: v for _, terms, _ in pick for k, v in terms.items()},
                                                         state)
            else:
                codes = self.codes(change, state[0])
            if codes is not None and not any(codes):
                out.append(change)
        return out

    def _classes(self, fact: Any, state: Day) -> dict[tuple[int, ...], list[tuple[Any, Terms]]]:
        """The values tried for `fact` (each change one evaluation), by the outcomes they give, in order."""
        seen: dict[tuple[int, ...], list[tuple[Any, Terms]]] = {}
        tried = self._tried(fact, state[0])
        if fact.name in self.ix.linked:
            for value, changed in tried:
                if changed is not None:
                    seen.setdefault(tuple(self._outcomes(changed, state)), []).append((value, changed))
            return seen
        # the change of a fact the preparation links to none changes its terms only: the criteria that do
        # not read it keep their outcome, and those that do tell the classes apart
        day, iv, _, memos = state
        iri = self.ix.iri_of[fact.name]
        readers = self.ix.readers.get(iri, ())
        # where none of them reads the as-of date (nor do the values tried), the classes are those of any
        # other date of the search (the later dates tried where no change helps)
        timeless = fact.kind != "date" and not any(self.cr.criteria[i].dated for i in readers)
        if timeless and fact.name in self.timeless_classes:
            seen, counted = self.timeless_classes[fact.name]
            self.evaluations += counted
            return seen
        evaluations = self.evaluations
        touched = [(i, memos[i], self.ix.keys[i]) for i in readers]
        row = dict(self.row)
        get = row.get
        self._spend(len(tried))
        for value, changed in tried:
            if changed is None:
                continue
            row[iri] = changed[iri]
            codes = []
            for i, memo, keys in touched:
                key = tuple(map(get, keys))
                hit = memo.get(key)
                codes.append(self._decide(i, row, key, day, iv, memo) if hit is None else hit)
            self.evaluations += 1
            seen.setdefault(tuple(codes), []).append((value, changed))
        if timeless:
            self.timeless_classes[fact.name] = (seen, self.evaluations - evaluations)
        return seen

    def _tried(self, fact: Any, day: dt.date) -> list[tuple[Any, Terms | None]]:
        """The values tried for `fact` (`candidates`), each with the terms it changes (None: refused);
        but a date's, the same on every as-of date."""
        name, current = fact.name, self.facts.get(fact.name)
        if fact.kind == "date":
            if fact.multiple or name in self.ix.linked or self.prepared is None:
                return [(v, self._single(fact, v)) for v in self.owner.candidates(self.cr, fact, current, day)]
            # a date's values follow the as-of date alone: kept by it (later as-of dates are the KB's own
            # change dates, the same for every search)
            dated = self.ix.dates_tried
            got_dates = dated.get((name, day))
            if got_dates is None:
                values = self.owner.candidates(self.cr, fact, None, day)
                got_dates = dated[(name, day)] = tuple((v, self.owner.value_terms(self.rule, fact, v)) for v in values)
                self.owner.remember()
            return [(v, terms) for v, terms in got_dates if v != current]
        got = self.values_tried.get(name)
        if got is None:
            if fact.multiple or name in self.ix.linked:
                got = [(v, self._single(fact, v)) for v in self.owner.candidates(self.cr, fact, current, day)]
            else:  # a rating afresh: the values tried end up in answers, which a caller may change
                got = [(dict(v) if isinstance(v, dict) else v, terms) for v, terms in self.owner.tried(self.cr, fact)
                       if v != current]
            self.values_tried[name] = got
        return got

    def render(self, change: tuple[tuple[str, Any], ...], day: dt.date, lang: str) -> dict[str, Any]:
        base = self.codes((), day) or []
        after = self.codes(change, day) or []
        static = self.cr.static[lang]["criteria"]
        steps = []
        for name, value in change:
            satisfied = [i for i, (b, a) in enumerate(zip(base, after, strict=True))
                         if b and not a and name in self.reads[i]]
            others = tuple(c for c in change if c[0] != name)
            alternatives = [v for v, terms in self.alike.get((name, repr(value)), [])
                            if self.rule.facts[name].kind not in ("integer", "decimal")
                            and (codes := self._with(name, v, terms, others, day)) is not None and not any(codes)]
            step: dict[str, Any] = {"fact": name, "from": self.facts.get(name), "to": value,
                                    "alternatives": alternatives,
                                    "condition": self._condition(name, value, change, day),
                                    "satisfies": [{"criterion": self.cr.criteria[i].c.id, "label": static[i][0],
                                                   "citations": [dict(x) for x in static[i][1]]}
                                                  for i in satisfied]}
            steps.append(step)
        return {"changes": steps}

    def _with(self, name: str, value: Any, terms: Terms, others: tuple[tuple[str, Any], ...],
              day: dt.date) -> list[int] | None:
        """`codes` of a change of `name` to `value` (whose terms are known) with `others`."""
        linked = self.ix.linked
        if self.prepared is None or name in linked or linked.intersection(n for n, _ in others):
            return self.codes(((name, value), *others), day)
        rest = self._changed(others)
        return None if rest is None else self._outcomes({**rest, **terms}, self._day(day))

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


def _change_sets(sizes: list[int]) -> list[int]:
    """By size k, how many change sets the combinations of k facts make: the sum, over each k of the
    facts, of the product of their numbers of values (elementary symmetric sums)."""
    out = [1] + [0] * MAX_CHANGES
    for n in sizes:
        for k in range(MAX_CHANGES, 0, -1):
            out[k] += out[k - 1] * n
    return out


def _is_point(v: Any, points: set[Any]) -> bool:
    return any(Fraction(str(v)) == Fraction(p) if not isinstance(p, Fraction) else Fraction(str(v)) == p
               for p in points)
