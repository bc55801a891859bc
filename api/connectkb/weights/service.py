"""Index weights: the bonds the compiled rules find eligible for an index, weighted under the index's
weighting rule as the KB records it (`methodology`), by the algorithms of `weighting`. The answer names
every reading of an open passage it applied, with the passage, and says why the weights do not sum to
one when they do not."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..common.ids import to_id
from ..common.languages import normalise_lang, pick_label
from ..rules.compiled.engine import CompiledRules
from ..rules.engine import RulesEngine
from . import weighting
from .methodology import Bucket, Methodologies, Methodology, Reading

SHOWN = 100  # bonds listed by name under each heading of an answer; the counts cover all
# the reading choices the calculation picks between, or applies only when their case arises; any other
# reading of a bucket (how a criterion is measured) applies whenever the bucket holds bonds
SITUATIONAL = frozenset({"cap-excess-repeated", "cap-excess-once", "cap-shortfall-unassigned", "cap-of-index",
                         "cap-of-bucket", "cap-excess-within-bucket", "rank-largest-first", "rank-smallest-first",
                         "tie-undetermined", "unselected-excluded", "short-bucket-equal-share",
                         "empty-bucket-unassigned", "remainder-all-other-issuers"})

_MESSAGES: dict[str, tuple[str, str]] = {
    "not-stated": ("the source states no weighting rule for this index, so its weights are not stated",
                   "来源未载明该指数的加权方式，其权重无法确定"),
    "no-rule": ("the KB has no eligibility rule for this index", "知识库没有该指数的成份券资格规则"),
    "no-eligible-bond": ("no bond is eligible, so there is nothing to weight", "没有合格债券，无从加权"),
    "undetermined-eligibility": ("the eligibility of some bonds is undetermined; the weights are those of the "
                                 "eligible bonds alone and would change if these were eligible",
                                 "部分债券是否合格无法确定；所列权重仅按合格债券计算，若这些债券合格则权重会变"),
    "missing-fact": ("a fact the weighting reads is missing for some bonds", "部分债券缺少加权所需的事实"),
    "bucket-undetermined": ("the source does not say which bucket holds bonds of these issuer types",
                            "来源未说明这些发行主体类型的债券归入哪一类别"),
    "no-bucket": ("no bucket of the rule holds these bonds' issuer type", "规则中没有类别容纳这些债券的发行主体类型"),
    "tie": ("these bonds are equal on every ranking criterion for the bucket's last place, which the source "
            "does not break", "这些债券在各排序标准上均相同，争夺该类别最后名额，来源未说明如何取舍"),
    "empty-bucket": ("no eligible bond falls in this bucket; its target weight is left unassigned",
                     "该类别没有合格债券，其目标权重不予分配"),
    "cap-shortfall": ("too few bonds can take the weight under the cap; the rest is left unassigned",
                      "在上限内可承载权重的债券过少，其余权重不予分配"),
    "no-reading": ("the KB records no reading of this open point, so the weights are undetermined",
                   "知识库未记录对该未明之处的解读，权重无法确定"),
    "method-unknown": ("the KB records a weighting method that the calculation does not know",
                       "知识库所载加权方式不为计算所知"),
}


class UnknownIndex(KeyError):
    pass


class BondsError(ValueError):
    """Bad input: `loc` says where (["bonds", 3, "facts", "market_value_cny"]), the message what was expected."""

    def __init__(self, loc: list[Any], message: str):
        super().__init__(message)
        self.loc = loc
        self.message = message


@dataclass(frozen=True)
class Bond:
    id: str
    facts: dict[str, Any]


@dataclass
class _Work:
    """What one calculation gathers: weights, the bucket of each bond, readings applied, reasons."""

    lang: str
    weights: dict[str, Fraction] = field(default_factory=dict)
    bucket_of: dict[str, str] = field(default_factory=dict)
    capped: set[str] = field(default_factory=set)
    not_selected: dict[str, str] = field(default_factory=dict)  # bond → bucket id
    applied: set[str] = field(default_factory=set)
    reasons: list[dict[str, Any]] = field(default_factory=list)
    undetermined: bool = False

    def why(self, reason: str, undetermined: bool, **extra: Any) -> None:
        en, zh = _MESSAGES[reason]
        self.reasons.append({"reason": reason, "message": zh if self.lang.startswith("zh") else en, **extra})
        self.undetermined = self.undetermined or undetermined

    def reading(self, readings: dict[str, Reading], *choices: str, point: str, where: str) -> str | None:
        """The choice the KB applies on an open point (one of `choices`), marked applied; None, and the
        answer undetermined, where it records none."""
        for choice in choices:
            if choice in readings:
                self.applied.add(readings[choice].iri)
                return choice
        self.why("no-reading", True, point=point, of=where)
        return None


class WeightsService:
    def __init__(self, rules: RulesEngine, compiled: CompiledRules):
        self.rules, self.compiled = rules, compiled
        self.methodologies = Methodologies(rules.backend)
        self.rule_for: dict[str, str] = {}
        for rule in rules.rules.values():
            for target in rule.applies_to:
                self.rule_for.setdefault(target, rule.id)

    def index_ids(self) -> list[str]:
        return sorted(self.methodologies.by_id)

    def methodology(self, index_id: str) -> Methodology:
        m = self.methodologies.by_id.get(index_id)
        if m is None:
            raise UnknownIndex(index_id)
        return m

    def weigh(self, index_id: str, bonds: list[Bond], as_of: dt.date, lang: str = "en") -> dict[str, Any]:
        m = self.methodology(index_id)
        lang = normalise_lang(lang)
        seen: set[str] = set()
        known = self.rules.input_facts.keys()
        for i, bond in enumerate(bonds):
            if bond.id in seen:
                raise BondsError(["bonds", i, "id"], f"bond id '{bond.id}' is given twice; ids must be unique")
            seen.add(bond.id)
            unknown = sorted(bond.facts.keys() - known)
            if unknown:
                raise BondsError(["bonds", i, "facts", unknown[0]], f"bond '{bond.id}': unknown fact '{unknown[0]}'; "
                                 f"known facts: {', '.join(sorted(known))}")
        work = _Work(lang)
        answer: dict[str, Any] = {"index": {"id": m.index_id, "label": _pick(m.index_labels, lang)},
                                  "as_of": as_of.isoformat(), "lang": lang, "bonds": len(bonds)}
        if not m.stated:
            work.why("not-stated", True)
            return {**answer, "rule": None, "method": None, "summary": _pick(m.summaries, lang),
                    **self._tail(m, work, lang), "status": "not-stated"}
        rule_id = self.rule_for.get(m.index_iri)
        answer["rule"] = rule_id
        answer["method"] = {"id": m.method, "label": self.rules.label_of(m.method_iri or "", lang)}
        answer["summary"] = _pick(m.summaries, lang)
        if rule_id is None:
            work.why("no-rule", True)
            return {**answer, "status": "undetermined", **self._tail(m, work, lang)}
        eligible, counts = self._eligibility(rule_id, bonds, as_of, lang, work)
        answer["eligibility"] = counts
        _check_numbers(m, bonds, eligible)
        if not eligible:
            work.why("no-eligible-bond", False)
        elif m.buckets:
            _bucketed(m, eligible, work)
        elif m.weight_fact:
            _proportional(m, eligible, work)
        elif m.method == "equal":
            work.weights = weighting.equal([b.id for b in eligible], Fraction(1))
        else:
            work.why("method-unknown", True, method=m.method)
        return {**answer, **self._tail(m, work, lang)}

    def _eligibility(self, rule_id: str, bonds: list[Bond], as_of: dt.date, lang: str,
                     work: _Work) -> tuple[list[Bond], dict[str, Any]]:
        result = self.compiled.evaluate_many([rule_id], [b.facts for b in bonds], as_of)
        frame = result.frames[rule_id]
        verdicts = frame["verdict"].cast(str).to_list() if frame.height else []
        errors = frame["error"].to_list() if frame.height else []
        for i, error in enumerate(errors):
            if error:
                name, _, message = error.partition(": ")
                raise BondsError(["bonds", i, "facts", name] if name else ["bonds", i, "facts"],
                                 f"bond '{bonds[i].id}': {message or error}")
        criteria = [c for c in frame.columns if c not in ("fact_set", "engine", "verdict", "error")]
        failing = {c: frame[c].cast(str).to_list() for c in criteria}
        eligible, ineligible, undetermined = [], [], []
        for i, verdict in enumerate(verdicts):
            if verdict == "eligible":
                eligible.append(bonds[i])
            elif verdict == "ineligible":
                ineligible.append({"id": bonds[i].id, "failed": [c for c in criteria if failing[c][i] == "fail"]})
            else:
                undetermined.append(i)
        shown = []
        for i in undetermined[:SHOWN]:
            ans = self.compiled.evaluate(rule_id, bonds[i].facts, as_of, lang)
            shown.append({"id": bonds[i].id, "missing_facts": ans["missing_facts"],
                          "unknown": [c["id"] for c in ans["criteria"] if c["outcome"] == "unknown"]})
        if undetermined:
            work.why("undetermined-eligibility", True, count=len(undetermined), bonds=shown)
        return eligible, {"eligible": len(eligible), "ineligible": len(ineligible),
                          "undetermined": len(undetermined), "ineligible_bonds": ineligible[:SHOWN]}

    def _tail(self, m: Methodology, work: _Work, lang: str) -> dict[str, Any]:
        total = sum(work.weights.values(), Fraction(0))
        status = "undetermined" if work.undetermined else ("weighted" if total == 1 else "incomplete")
        shown = {b: float(w) for b, w in work.weights.items()}  # floats order as the exact weights do, faster
        constituents = [{"id": b, "weight": w, "bucket": work.bucket_of.get(b), "capped": b in work.capped}
                        for b, w in sorted(shown.items(), key=lambda kv: (-kv[1], kv[0]))]
        out: dict[str, Any] = {
            "status": status, "total_weight": float(total), "sums_to_one": total == 1,
            "why_not": work.reasons, "constituents": constituents,
            "not_selected": [{"id": b, "bucket": k} for b, k in sorted(work.not_selected.items())][:SHOWN],
        }
        if m.buckets:
            out["buckets"] = [{"id": b.id, "label": _pick(b.labels, lang), "target_weight": float(b.target),
                               "weight": float(sum((w for k, w in work.weights.items()
                                                    if work.bucket_of.get(k) == b.id), Fraction(0))),
                               "constituents": sum(1 for k in work.weights if work.bucket_of.get(k) == b.id)}
                              for b in m.buckets]
        out["readings"] = [{"id": r.id, "label": _pick(r.labels, lang), "reading": r.choice,
                            "applied": r.iri in work.applied, "of": [to_id(x) for x in r.of],
                            "summary": _pick(r.summaries, lang), "ambiguity": _pick(r.ambiguities, lang),
                            "citations": self.rules.citations(list(r.citation_iris), lang)}
                           for r in m.all_readings]
        out["citations"] = self.rules.citations(m.citation_iris, lang)
        return out


def _pick(texts: dict[str, str], lang: str) -> str | None:
    return pick_label(texts, lang)


def _number(value: Any) -> Fraction | None:
    if value is None:
        return None
    return Fraction(Decimal(str(value)))


def _check_numbers(m: Methodology, bonds: list[Bond], eligible: list[Bond]) -> None:
    """The facts the weighting reads must be finite numbers, and the amounts it weights by positive:
    most are read by no eligibility rule (market value, duration), so nothing has checked them yet."""
    amounts = {f for f in (m.weight_fact, *(b.within_fact for b in m.buckets)) if f}
    keys = {k.fact for b in m.buckets for k in b.rank} - amounts
    index = {b.id: i for i, b in enumerate(bonds)}
    for bond in eligible:
        for name in sorted(amounts | keys):
            value = bond.facts.get(name)
            if value is None:
                continue
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            if not ok or (name in amounts and value <= 0):
                expected = "a positive number" if name in amounts else "a number"
                raise BondsError(["bonds", index[bond.id], "facts", name],
                                 f"bond '{bond.id}': '{name}' must be {expected}, not {value!r}")


def _amounts(bonds: list[Bond], fact: str, work: _Work) -> dict[str, Fraction] | None:
    missing = [b.id for b in bonds if b.facts.get(fact) is None]
    if missing:
        work.why("missing-fact", True, fact=fact, bonds=missing[:SHOWN], count=len(missing))
        return None
    return {b.id: Fraction(Decimal(str(b.facts[fact]))) for b in bonds}


def _apply_cap(weights: dict[str, Fraction], limit: Fraction, readings: dict[str, Reading], where: str,
               work: _Work) -> dict[str, Fraction] | None:
    if not any(w > limit for w in weights.values()):
        return weights
    repeat = work.reading(readings, "cap-excess-repeated", "cap-excess-once", point="cap redistribution", where=where)
    if repeat is None:
        return None
    result = weighting.cap(weights, limit, repeat == "cap-excess-repeated")
    work.capped.update(result.capped)
    if result.unassigned and work.reading(readings, "cap-shortfall-unassigned", point="too few bonds for the cap",
                                          where=where):
        work.why("cap-shortfall", False, of=where, cap=float(limit), unassigned=float(result.unassigned))
    return result.weights


def _proportional(m: Methodology, eligible: list[Bond], work: _Work) -> None:
    amounts = _amounts(eligible, m.weight_fact or "", work)
    if amounts is None:
        return
    weights = weighting.proportional(amounts, Fraction(1))
    if m.cap is not None:
        if not m.pro_rata:
            work.why("no-reading", True, point="where weight above the cap goes", of=to_id(m.statement_iri or ""))
            return
        weights = _apply_cap(weights, m.cap, m.readings, to_id(m.statement_iri or ""), work)
        if weights is None:
            return
    work.weights = weights


def _bucketed(m: Methodology, eligible: list[Bond], work: _Work) -> None:
    members: dict[str, list[Bond]] = {b.iri: [] for b in m.buckets}
    remainder = next((b for b in m.buckets if "remainder-all-other-issuers" in b.readings), None)
    fact = m.bucket_fact or ""
    unplaced: dict[str, list[str]] = {}
    for bond in eligible:
        code = bond.facts.get(fact)
        if code is None:
            unplaced.setdefault("missing-fact", []).append(bond.id)
        elif code in m.undetermined_types:
            unplaced.setdefault("bucket-undetermined", []).append(bond.id)
        else:
            home = next((b for b in m.buckets if b is not remainder and code in b.issuer_types), None)
            if home is None and remainder is not None:
                home = remainder
                work.applied.add(remainder.readings["remainder-all-other-issuers"].iri)
            if home is None:
                unplaced.setdefault("no-bucket", []).append(bond.id)
            else:
                members[home.iri].append(bond)
    for reason, ids in unplaced.items():
        extra = {"fact": fact} if reason == "missing-fact" else {}
        work.why(reason, True, bonds=ids[:SHOWN], count=len(ids), **extra)
    for bucket in m.buckets:
        _bucket(bucket, members[bucket.iri], work)


def _bucket(bucket: Bucket, bonds: list[Bond], work: _Work) -> None:
    where = bucket.id
    if not bonds:
        if work.reading(bucket.readings, "empty-bucket-unassigned", point="a bucket without bonds", where=where):
            work.why("empty-bucket", False, bucket=where, target_weight=float(bucket.target))
        return
    work.applied.update(r.iri for choice, r in bucket.readings.items() if choice not in SITUATIONAL)
    chosen = bonds
    if bucket.max_constituents is not None and len(bonds) > bucket.max_constituents:
        chosen_ids = _select(bucket, bonds, work)
        if chosen_ids is None:
            return
        chosen = [b for b in bonds if b.id in chosen_ids]
    elif (bucket.max_constituents is not None and len(bonds) < bucket.max_constituents
          and not work.reading(bucket.readings, "short-bucket-equal-share",
                               point="a bucket with fewer bonds than it may hold", where=where)):
        return
    if bucket.within == "equal":
        weights = weighting.equal([b.id for b in chosen], bucket.target)
    elif bucket.within_fact:
        amounts = _amounts(chosen, bucket.within_fact, work)
        if amounts is None:
            return
        weights = weighting.proportional(amounts, bucket.target)
        if bucket.cap is not None:
            base = work.reading(bucket.readings, "cap-of-index", "cap-of-bucket", point="what the cap is a share of",
                                where=where)
            if base is None:
                return
            limit = bucket.cap if base == "cap-of-index" else bucket.cap * bucket.target
            if any(w > limit for w in weights.values()):
                if not work.reading(bucket.readings, "cap-excess-within-bucket",
                                    point="where weight above the cap goes", where=where):
                    return
                capped = _apply_cap(weights, limit, bucket.readings, where, work)
                if capped is None:
                    return
                weights = capped
    else:
        work.why("method-unknown", True, method=bucket.within, bucket=where)
        return
    for bond_id, w in weights.items():
        work.weights[bond_id] = w
        work.bucket_of[bond_id] = where


def _select(bucket: Bucket, bonds: list[Bond], work: _Work) -> set[str] | None:
    where = bucket.id
    orders = []
    for i, key in enumerate(bucket.rank):
        order = key.order
        if order is None and i == 0:
            order = work.reading(bucket.readings, "rank-largest-first", "rank-smallest-first",
                                 point="the ranking order", where=where)
        if order is None:
            if i:
                work.why("no-reading", True, point="the tie-break order", of=where)
            return None
        orders.append(order == "rank-largest-first")
    values = {b.id: [_number(b.facts.get(k.fact)) for k in bucket.rank] for b in bonds}
    k = bucket.max_constituents or 0
    sel = weighting.top(values, k, orders)
    if sel.missing:
        by_fact: dict[str, list[str]] = {}
        for bond_id, key in sorted(sel.missing.items()):
            by_fact.setdefault(bucket.rank[key].fact, []).append(bond_id)
        for fact, ids in by_fact.items():
            work.why("missing-fact", True, fact=fact, bucket=where, bonds=ids[:SHOWN], count=len(ids))
        return None
    if sel.tied:
        work.reading(bucket.readings, "tie-undetermined", point="a tie on every criterion", where=where)
        work.why("tie", True, bucket=where, bonds=sel.tied[:SHOWN])
        return None
    if not work.reading(bucket.readings, "unselected-excluded", point="bonds a bucket does not choose", where=where):
        return None
    for bond_id in sel.left_out:
        work.not_selected[bond_id] = where
    return set(sel.chosen)
