"""CompiledRules: `evaluate` (one fact set, the reference's answer) and `evaluate_many` (many fact
sets × rules, columnar outcomes; answers rendered on demand)."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from itertools import accumulate, repeat
from typing import Any

from ...common.ids import iri_node, to_id
from ...common.languages import MISSING_FACT, normalise_lang, pick_label
from ...common.namespaces import sparql_prologue
from . import columns
from .compiler import CompiledCriterion, compile_rule
from .facts import Invalid, Normaliser
from .kinds import Ctx, Unsupported
from .probe import Prober

LANGS = ("en", "zh", "zh-Hant")
OUTCOMES = ("pass", "fail", "unknown")
KEY_LIMIT = 2**62  # a criterion whose classes combine to more falls back to grouping on the columns


def _pick(texts: dict[str, str], lang: str) -> str | None:
    return pick_label(texts, lang)  # zh-Hant falls back to zh, then en


class CompiledRule:
    def __init__(self, engine: Any, rule: Any, criteria: list[CompiledCriterion], ctx: Ctx):
        self.rule, self.criteria, self.ctx = rule, criteria, ctx
        self.fact_iris = {f.iri for f in rule.facts.values()}
        self.order = [f for c in rule.criteria for f in (*c.requires, *c.one_of)]
        cite, label = engine.citations, engine.label_of
        self.static = {lang: {
            "label": _pick(rule.labels, lang),
            "citations": cite(rule.citation_iris, lang),
            "unstated": [{"id": to_id(a), "label": label(a, lang)} for a in rule.unstated],
            "criteria": [(_pick(c.c.labels, lang), cite(c.c.citation_iris, lang),
                          _pick(c.c.pass_messages, lang) or _pick(c.c.labels, lang)) for c in criteria],
        } for lang in LANGS}

    def outcomes(self, row: dict[str, tuple[Any, ...]], present: set[str], as_of: dt.date, iv: int,
                 memo: list[dict[Any, int]] | None = None) -> list[int]:
        """Each criterion's outcome: 0 pass, 1 fail, 2 unknown, 3 unknown for a missing fact."""
        out = []
        for i, crit in enumerate(self.criteria):
            c = crit.c
            if any(f not in present for f in c.requires) or (c.one_of and not present.intersection(c.one_of)):
                out.append(3)
                continue
            if memo is not None:
                key = tuple(row.get(f) for f in crit.reads)
                hit = memo[i].get(key)
                if hit is None:
                    hit = memo[i][key] = self._decide(crit, row, as_of, iv)
                out.append(hit)
            else:
                out.append(self._decide(crit, row, as_of, iv))
        return out

    def outcome(self, i: int, row: dict[str, tuple[Any, ...]], present: set[str], as_of: dt.date, iv: int) -> int:
        """Criterion i's outcome (as `outcomes`)."""
        c = self.criteria[i].c
        if any(f not in present for f in c.requires) or (c.one_of and not present.intersection(c.one_of)):
            return 3
        return self._decide(self.criteria[i], row, as_of, iv)

    @staticmethod
    def _decide(crit: CompiledCriterion, row: dict[str, tuple[Any, ...]], as_of: dt.date, iv: int) -> int:
        for k in crit.violations:
            if k.fires(row, as_of, iv):
                return 1
        for k in crit.warnings:
            if k.fires(row, as_of, iv):
                return 2
        return 0

    def answer(self, facts: dict[str, Any], row: dict[str, tuple[Any, ...]], as_of: dt.date, lang: str,
               codes: list[int] | None = None) -> dict[str, Any]:
        rule = self.rule
        present = {n for n, v in facts.items() if v is not None and n in rule.facts}
        iv = self.ctx.interval(as_of)
        codes = codes if codes is not None else self.outcomes(row, present, as_of, iv)
        static = self.static[lang]
        missing_counter: Counter[str] = Counter()
        criteria_out = []
        for crit, code, (label, cites, pass_message) in zip(self.criteria, codes, static["criteria"], strict=True):
            c = crit.c
            if code == 3:
                missing = [f for f in c.requires if f not in present]
                if c.one_of and not present.intersection(c.one_of):
                    missing.append(c.one_of[0])
                named = [" or ".join(c.one_of) if f in c.one_of else f for f in missing]
                outcome, message = "unknown", MISSING_FACT.get(lang, MISSING_FACT["zh"]) + ", ".join(named)
                missing_counter.update(missing)
            elif code == 0:
                outcome, message = "pass", pass_message
            else:
                outcome = "fail" if code == 1 else "unknown"
                level = crit.violations if code == 1 else crit.warnings
                check = next(k for k in level if k.fires(row, as_of, iv))
                message = _pick(check.messages(row, as_of, iv), lang)
            criteria_out.append({"id": c.id, "label": label, "outcome": outcome, "message": message,
                                 "requires": list(c.requires), "citations": [dict(x) for x in cites]})
        outcomes = {c["outcome"] for c in criteria_out}
        verdict = "ineligible" if "fail" in outcomes else ("undetermined" if "unknown" in outcomes else "eligible")
        order = self.order
        missing_facts = sorted(missing_counter, key=order.index)
        next_fact = max(missing_facts, key=lambda f: (missing_counter[f], -order.index(f))) if missing_facts else None
        return {"rule": rule.id, "label": static["label"], "as_of": as_of.isoformat(), "lang": lang,
                "verdict": verdict, "criteria": criteria_out, "missing_facts": missing_facts, "next_fact": next_fact,
                "ignored_facts": sorted(set(facts) - set(rule.facts)),
                "unstated_criteria": [dict(u) for u in static["unstated"]],
                "citations": [dict(x) for x in static["citations"]]}


class BulkResult:
    """Outcomes of `evaluate_many`, by rule: `frames[rule id]` is a Polars table with one row per fact set
    (`fact_set`, `engine`, `verdict`, `error`, and one column per criterion of the rule: pass / fail /
    unknown). `to_polars()` stacks them (one row per fact set × rule; a criterion column is null on the
    rows of rules without it); `answer(i)` renders the full answer of a row of that table on demand."""

    def __init__(self, owner: CompiledRules, rule_ids: list[str], load: Any, as_of: dt.date,
                 frames: dict[str, Any]):
        self._owner, self.rule_ids, self._load, self.as_of = owner, rule_ids, load, as_of
        self.frames = frames
        self._stacked: Any = None
        self._columns: dict[str, list[Any]] | None = None

    def __len__(self) -> int:
        return sum(f.height for f in self.frames.values())

    def to_polars(self) -> Any:
        import polars as pl
        if self._stacked is None:
            parts = [f.with_columns(pl.lit(rule_id).alias("rule")) for rule_id, f in self.frames.items()]
            self._stacked = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()
        return self._stacked

    @property
    def columns(self) -> dict[str, list[Any]]:
        if self._columns is None:
            self._columns = self.to_polars().to_dict(as_series=False)
        return self._columns

    def answer(self, i: int, lang: str = "en") -> dict[str, Any]:
        """The full answer (messages, citations) of row i of `to_polars()`, as `evaluate` gives it."""
        row = self.to_polars().row(i, named=True)
        return self._owner.evaluate(row["rule"], self._load(row["fact_set"]), self.as_of, lang)


class CompiledRules:
    def __init__(self, engine: Any, label_of: Any = None):
        self.engine = engine
        self.label_of = label_of or engine.label_of
        self.normaliser = Normaliser(engine.input_facts, engine.max_list, engine.max_string)
        self.compiled: dict[str, CompiledRule] = {}
        self.reasons: dict[str, str] = {}
        prologue = sparql_prologue()
        for rule_id, rule in engine.rules.items():
            try:
                slices = "SELECT ?rule ?q WHERE { ?rule ck:kbSlice ?q }"
                if engine.backend.select(prologue + slices, {"rule": iri_node(rule.iri)}):
                    raise Unsupported("the rule declares a ck:kbSlice (a custom shape reads more of the KB)")
                ctx = Ctx(rule, self.label_of, Prober(rule, self.label_of, engine.store_lock))
                self.compiled[rule_id] = CompiledRule(engine, rule, compile_rule(rule, ctx), ctx)
                self.reasons[rule_id] = "every criterion is of a compiled check kind"
            except Unsupported as exc:
                self.reasons[rule_id] = str(exc)
        kinds = {}
        for rule_id, cr in self.compiled.items():
            for crit in cr.criteria:
                for k in crit.checks:
                    kinds.setdefault(k.kind, set()).add(rule_id)
        self.kinds = {k: sorted(v) for k, v in kinds.items()}
        self.criterion_ids = list(dict.fromkeys(c.id for r in engine.rules.values() for c in r.criteria))

    def engine_for(self, rule_id: str) -> tuple[str, str]:
        self.engine.get_rule(rule_id)
        return ("compiled" if rule_id in self.compiled else "reference"), self.reasons[rule_id]

    def _row(self, rule: Any, facts: dict[str, Any], as_of: dt.date) -> dict[str, tuple[Any, ...]] | None:
        try:
            return self.normaliser.row(facts)
        except Invalid:
            self.engine.facts_to_graph(rule, facts, as_of)  # raises the reference's FactError
            return None  # the reference accepts what the compiler doubted: let it answer

    def evaluate(self, rule_id: str, facts: dict[str, Any], as_of: dt.date, lang: str = "en") -> dict[str, Any]:
        rule = self.engine.get_rule(rule_id)
        cr = self.compiled.get(rule_id)
        lang = normalise_lang(lang)
        if cr is None:
            return self.engine.evaluate(rule_id, facts, as_of, lang)[0]
        prepared = self.engine.prepare(rule, facts)
        row = self._row(rule, prepared.facts, as_of)
        if row is None:  # the reference prepares the facts itself
            return self.engine.evaluate(rule_id, facts, as_of, lang)[0]
        return self.engine.annotate(rule, cr.answer(prepared.facts, row, as_of, lang), prepared, lang)

    def evaluate_many(self, rule_ids: list[str], fact_sets: list[dict[str, Any]], as_of: dt.date) -> BulkResult:
        """Per rule, per fact set: verdict and every criterion's outcome, in columns (`BulkResult`); `error`
        names a malformed fact. No messages are rendered."""
        batch = _Batch(self, rule_ids, as_of)
        batch.add(fact_sets)
        return BulkResult(self, rule_ids, fact_sets.__getitem__, as_of, batch.frames())

    def evaluate_jsonl(self, rule_ids: list[str], path: Any, as_of: dt.date, chunk: int = 100_000) -> BulkResult:
        """`evaluate_many` over a JSON Lines file (one fact set a line), read in chunks so that memory
        holds value classes, not fact sets; `answer(i)` reads its fact set back from the file."""
        import json
        from array import array
        batch = _Batch(self, rule_ids, as_of)
        offsets = array("q")
        pos = 0
        with open(path, "rb") as fh:
            while True:
                lines = fh.readlines(chunk * 400)
                if not lines:
                    break
                lens = list(map(len, lines))
                sets = None
                if min(lens) > 1:  # no empty line; a line of blanks fails the array parse
                    try:  # one array: faster than a parse per line
                        sets = json.loads(b"[" + b",".join(lines) + b"]")
                        if len(sets) != len(lines) or not all(x.__class__ is dict for x in sets):
                            sets = None
                    except ValueError:
                        sets = None
                if sets is not None:
                    offsets.extend(accumulate(lens[:-1], initial=pos))
                    pos += sum(lens)
                else:
                    sets = []
                    for line in lines:
                        if line.strip():
                            offsets.append(pos)
                            sets.append(_parse(json, line))
                        pos += len(line)
                batch.add(sets)
                del sets, lines

        def load(i: int) -> Any:
            with open(path, "rb") as fh:
                fh.seek(offsets[i])
                return json.loads(fh.readline())
        return BulkResult(self, rule_ids, load, as_of, batch.frames())


def _parse(json: Any, line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return _Unparsed(line)


class _Unparsed:
    """A line that is not JSON: every rule reports it as an error."""

    def __init__(self, line: bytes):
        self.line = line


class _Batch:
    """The columnar evaluation: fact sets → value-class columns (`columns.FactColumn`) → per criterion, the
    distinct combinations of the classes it reads, each decided once by the compiled checks on a value
    of each class (`CompiledRule.outcomes`, as `evaluate` decides), mapped back over the column."""

    def __init__(self, owner: CompiledRules, rule_ids: list[str], as_of: dt.date):
        import polars as pl
        self.pl = pl
        self.owner, self.as_of = owner, as_of
        self.rules = [owner.engine.get_rule(r) for r in rule_ids]
        self.known = set(owner.engine.input_facts)
        points: dict[str, list[Any] | None] = {}
        for rule in self.rules:
            cr = owner.compiled.get(rule.id)
            if cr is None:
                continue
            by_iri = {f.iri: f.name for f in owner.engine.input_facts.values()}
            for crit in cr.criteria:
                for k in crit.checks:
                    for iri in k.reads:
                        name = by_iri.get(iri)
                        if name is None:
                            continue
                        got = k.points(iri)
                        if name not in points:
                            points[name] = [] if got is None else list(got)
                        if got is None:
                            points[name] = None
                        elif points[name] is not None:
                            points[name].extend(got)
        self.iri_of = {n: f.iri for n, f in owner.engine.input_facts.items()}
        self.fact_columns = {n: columns.FactColumn(owner.normaliser, n, points.get(n, []))
                             for n in owner.engine.input_facts}
        self.memo: dict[tuple[str, int], dict[tuple[int, ...], int]] = {}
        self.parts: dict[str, list[Any]] = {r.id: [] for r in self.rules}
        prep = owner.engine.preparation
        # rules for which a fact set may need preparing: they read an entity fact, or both facts of an implication
        self.prepares = {r.id: bool(prep.entity_facts.keys() & r.facts.keys()) or any(
            i.if_fact in r.facts and i.then_fact in r.facts for i in prep.implications) for r in self.rules}
        self.n = 0

    def add(self, fact_sets: list[Any]) -> None:
        pl = self.pl
        n0, n = self.n, len(fact_sets)
        self.n += n
        if not n:
            return
        known = self.known
        slow = [i for i, fs in enumerate(fact_sets) if not isinstance(fs, dict) or not fs.keys() <= known]
        names = sorted({k for fs in fact_sets if isinstance(fs, dict) for k in fs} & known)
        data = {}
        dicts = fact_sets if all(fs.__class__ is dict for fs in fact_sets) else \
            [fs if isinstance(fs, dict) else {} for fs in fact_sets]
        for name in names:
            ids = self.fact_columns[name].add(list(map(dict.get, dicts, repeat(name))))
            data[name] = pl.Series(name, ids, dtype=pl.Int32)
        frame = pl.DataFrame(data, height=n) if data else pl.DataFrame({"_": pl.zeros(n, eager=True)})
        if data:
            bad = frame.select(pl.any_horizontal([pl.col(c) < 0 for c in names]).arg_true()).to_series().to_list()
            slow = sorted(set(slow) | set(bad))
        index = pl.Series("fact_set", range(n0, n0 + n), dtype=pl.Int64)
        for rule in self.rules:
            self.parts[rule.id].append(self._rule(rule, frame, names, fact_sets, slow, index))

    def _rule(self, rule: Any, frame: Any, names: list[str], fact_sets: list[Any], slow: list[int], index: Any) -> Any:
        pl = self.pl
        cr = self.owner.compiled.get(rule.id)
        n = frame.height
        crit_ids = [c.id for c in rule.criteria]
        if cr is None:
            return self._one_by_one(rule, fact_sets, list(range(n)), index, crit_ids)
        iv = cr.ctx.interval(self.as_of)
        by_iri = {f.iri: f.name for f in self.owner.engine.input_facts.values()}
        codes = {}
        for i, crit in enumerate(cr.criteria):
            c = crit.c
            keys = sorted({by_iri[f] for f in crit.reads if f in by_iri} | set(c.requires) | set(c.one_of))
            keys = [k for k in keys if k in names]  # a fact no fact set gives is absent everywhere
            memo = self.memo.setdefault((rule.id, i, tuple(keys)), {})
            sizes = [self.fact_columns[k].size for k in keys]
            if math.prod(sizes) >= KEY_LIMIT:  # too many classes for one integer key: group on the columns
                groups = frame.select(keys).with_row_index("_r").group_by(keys).agg(pl.col("_r"))
                code = pl.Series("c", [0] * n, dtype=pl.UInt8)
                for *classes, rows in groups.iter_rows():
                    t = tuple(max(x, 0) for x in classes)
                    hit = memo.get(t)
                    if hit is None:
                        hit = memo[t] = self._decide(cr, i, keys, t, iv)
                    code.scatter(rows, hit)
                codes[c.id] = code
                continue
            if not keys:
                kcol = pl.zeros(n, dtype=pl.Int64, eager=True)
            else:
                key, stride = None, 1
                for k in keys:
                    term = pl.col(k).cast(pl.Int64).clip(lower_bound=0) * stride
                    key = term if key is None else key + term
                    stride *= self.fact_columns[k].size
                kcol = frame.select(key.alias("k")).to_series()
            uniq = kcol.unique().to_list()
            out = []
            for u in uniq:
                classes = []
                for size in sizes:  # the key's classes (the same class ids in every chunk; the strides not)
                    u, cls = divmod(u, size)
                    classes.append(cls)
                t = tuple(classes)
                hit = memo.get(t)
                if hit is None:
                    hit = memo[t] = self._decide(cr, i, keys, t, iv)
                out.append(hit)
            codes[c.id] = kcol.replace_strict(uniq, out, return_dtype=pl.UInt8)
        cf = pl.DataFrame(codes)
        fail = pl.any_horizontal([pl.col(c) == 1 for c in crit_ids])
        passed = pl.all_horizontal([pl.col(c) == 0 for c in crit_ids])
        enum = pl.Enum(["pass", "fail", "unknown"])
        verdicts = pl.Enum(["eligible", "ineligible", "undetermined"])
        out = cf.select(
            index,
            pl.lit("compiled").alias("engine"),
            pl.when(fail).then(pl.lit("ineligible")).when(passed).then(pl.lit("eligible"))
            .otherwise(pl.lit("undetermined")).cast(verdicts).alias("verdict"),
            pl.lit(None, dtype=pl.String).alias("error"),
            *[pl.col(c).replace_strict([0, 1, 2, 3], ["pass", "fail", "unknown", "unknown"], return_dtype=enum)
              for c in crit_ids])
        # fact sets whose names or implied facts the preparation reads are answered as `evaluate` answers them
        prep = self.owner.engine.preparation
        if self.prepares[rule.id]:
            known = set(slow)
            slow = sorted(known | {i for i, fs in enumerate(fact_sets)
                                   if i not in known and isinstance(fs, dict) and prep.needs(rule, fs)})
        if slow:
            fixed = self._one_by_one(rule, fact_sets, slow, index, crit_ids)
            out = pl.concat([out.filter(~pl.col("fact_set").is_in(fixed["fact_set"].implode())), fixed],
                            how="vertical_relaxed").sort("fact_set")
        return out

    def _decide(self, cr: Any, i: int, keys: list[str], classes: tuple[int, ...], iv: int) -> int:
        row: dict[str, tuple[Any, ...]] = {}
        present = set()
        for k, cls in zip(keys, classes, strict=True):
            col = self.fact_columns[k]
            if cls:
                row[self.iri_of[k]] = col.table[cls]
                if k in cr.rule.facts:
                    present.add(k)
        return cr.outcome(i, row, present, self.as_of, iv)

    def _one_by_one(self, rule: Any, fact_sets: list[Any], rows: list[int], index: Any, crit_ids: list[str]) -> Any:
        """Fact sets the columns do not decide (a malformed value, an unknown fact, a rule on the reference
        engine): each answered as `evaluate` answers it."""
        pl = self.pl
        owner = self.owner
        engine_name = "compiled" if rule.id in owner.compiled else "reference"
        cols: dict[str, list[Any]] = {"fact_set": [], "engine": [], "verdict": [], "error": [],
                                      **{c: [] for c in crit_ids}}
        base = index[0]
        for r in rows:
            facts = fact_sets[r]
            cols["fact_set"].append(base + r)
            cols["engine"].append(engine_name)
            try:
                if isinstance(facts, _Unparsed):
                    raise ValueError("not a JSON object")
                answer = owner.evaluate(rule.id, facts, self.as_of)
            except Exception as exc:  # a malformed fact: FactError from the reference
                cols["verdict"].append(None)
                cols["error"].append(f"{getattr(exc, 'field', '')}: {getattr(exc, 'message', exc)}")
                for c in crit_ids:
                    cols[c].append(None)
                continue
            cols["verdict"].append(answer["verdict"])
            cols["error"].append(None)
            for c in answer["criteria"]:
                cols[c["id"]].append(c["outcome"])
        enum = pl.Enum(["pass", "fail", "unknown"])
        return pl.DataFrame(cols, schema={"fact_set": pl.Int64, "engine": pl.String,
                                          "verdict": pl.Enum(["eligible", "ineligible", "undetermined"]),
                                          "error": pl.String, **{c: enum for c in crit_ids}})

    def frames(self) -> dict[str, Any]:
        pl = self.pl
        return {rule_id: (pl.concat(parts) if len(parts) > 1 else parts[0]) if parts else pl.DataFrame()
                for rule_id, parts in self.parts.items()}
