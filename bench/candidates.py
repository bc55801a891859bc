"""The engine designs issue 11 asked to measure, on this machine, beside the one chosen:

- pySHACL per fact set (the reference: the rule's shapes over its KB slice plus the facts);
- pyshacl-turbo per fact set, its shapes compiled once per rule (`CompiledShapes`), on the same store;
- set-based SPARQL: every fact set in one Oxigraph store, each check's own SELECT once for all of them;
- columnar predicates (Polars): the cost floor of one expression per criterion, on one row and on many;
- compiled check kinds (chosen): `CompiledRules.evaluate` and `evaluate_many`.

The single-evaluation figures are over the rule questions of tests/rules/. pyshacl-turbo's is the report
alone (no answer built from it), and its report is compared with pySHACL's: conformance and the number of
results. The set-based figures run each check's SELECT with $this left free; a check that aggregates then
groups differently from the reference, so they are timings of the approach, not answers.

    python bench/run.py candidates [--candidates-n 10000]   # set-based SPARQL takes minutes at 100,000
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from typing import Any

from engine import AS_OF, _engines, _pct, _questions, synthetic_bonds


def candidates(args: argparse.Namespace) -> None:
    reference, compiled, _, _ = _engines()
    questions = [q for q in _questions() if compiled.engine_for(q[0])[0] == "compiled"]
    print(f"engine candidates ({len(questions)} rule questions; bulk over {args.candidates_n:,} generated bonds):")
    _single(reference, compiled, questions)
    index_rules = sorted(r for r in reference.rules if r.startswith("index-"))
    _set_based(reference, compiled, index_rules, args.candidates_n)
    _columnar(args.candidates_n)
    t = time.perf_counter()
    result = compiled.evaluate_many(index_rules, list(synthetic_bonds(args.candidates_n)), AS_OF)
    seconds = time.perf_counter() - t
    criteria = sum(len(compiled.compiled[r].criteria) for r in index_rules)
    print(f"  compiled check kinds (chosen), bulk: {args.candidates_n:,} bonds x {len(index_rules)} index rules "
          f"({criteria} criteria), every outcome, in memory: {seconds:.2f}s "
          f"({len(result) / seconds:,.0f} evaluations/s)")


def _timed(fn: Any, *call: Any) -> float:
    t = time.perf_counter()
    fn(*call)
    return (time.perf_counter() - t) * 1000


def _single(reference: Any, compiled: Any, questions: list[tuple[str, dict, dt.date]]) -> None:
    import pyshacl_turbo
    from pyshacl import validate

    from connectkb.knowledge.loader import to_oxigraph_quad
    from connectkb.rules.engine import FactError

    shapes: dict[str, Any] = {}
    t = time.perf_counter()
    for rule_id in sorted({q[0] for q in questions}):
        shapes[rule_id] = pyshacl_turbo.CompiledShapes(reference.rules[rule_id].shapes, advanced=True)
    compile_s = time.perf_counter() - t
    times: dict[str, list[float]] = {"pySHACL (report only)": [], "pyshacl-turbo (report only)": [],
                                     "pySHACL (reference answer)": [], "compiled (answer)": []}
    agree = differ = failed = 0
    for rule_id, facts, as_of in questions:
        rule = reference.rules[rule_id]
        try:
            prepared = reference.prepare(rule, facts).facts
        except FactError:
            continue
        quads = [to_oxigraph_quad(t) for t in reference.facts_to_graph(rule, prepared, as_of)]
        added = [q for q in quads if q not in rule.store]
        rule.store.extend(added)
        try:
            t0 = time.perf_counter()
            conforms, report, _ = validate(rule.store, shacl_graph=rule.shapes, advanced=True, inference="none",
                                           allow_warnings=True, inplace=True)
            t1 = time.perf_counter()
            try:
                turbo = shapes[rule_id].validate(rule.store, allow_warnings=True)
            except Exception:  # a report it cannot build is a finding of this measurement, not a crash
                turbo, failed = None, failed + 1
            t2 = time.perf_counter()
        finally:
            for q in added:
                rule.store.remove(q)
        times["pySHACL (report only)"].append((t1 - t0) * 1000)
        times["pyshacl-turbo (report only)"].append((t2 - t1) * 1000)
        if turbo is not None:
            same = bool(turbo[0]) == bool(conforms) and _results(turbo[1]) == _results(report)
            agree, differ = agree + same, differ + (not same)
        times["pySHACL (reference answer)"].append(_timed(reference.evaluate, rule_id, facts, as_of))
        times["compiled (answer)"].append(_timed(compiled.evaluate, rule_id, facts, as_of))
    print(f"  single evaluation, p50 / p99 ms over {len(times['compiled (answer)'])} fact sets "
          f"(pyshacl-turbo compiled the shapes of {len(shapes)} rules in {compile_s:.2f}s):")
    for name, values in times.items():
        print(f"    {name:<30} {_pct(values, 0.5):8.3f} / {_pct(values, 0.99):8.3f}")
    print(f"    pyshacl-turbo's report vs pySHACL's (conformance, number of results): {agree} alike, {differ} differ, "
          f"{failed} not built")


def _results(report: Any) -> int:
    from rdflib import RDF, URIRef
    return len(list(report.subjects(RDF.type, URIRef("http://www.w3.org/ns/shacl#ValidationResult"))))


def _set_based(reference: Any, compiled: Any, rule_ids: list[str], n: int) -> None:
    import pyoxigraph as ox

    from connectkb.knowledge.loader import to_oxigraph_quad
    from connectkb.rules.compiled.probe import FACT_SET

    store = ox.Store()
    for rule_id in rule_ids:  # the KB slices the index rules read, together
        store.bulk_extend(list(reference.rules[rule_id].store))
    prober = compiled.compiled[rule_ids[0]].ctx.prober
    rule = reference.rules[rule_ids[0]]
    t = time.perf_counter()
    quads = []
    for i, bond in enumerate(synthetic_bonds(n)):
        row = compiled.normaliser.row(reference.prepare(rule, bond).facts)
        subject = ox.NamedNode(f"{FACT_SET}/{i}")
        for triple in prober.fact_triples(row, AS_OF):
            quad = to_oxigraph_quad(triple)
            quads.append(ox.Quad(subject, quad.predicate, quad.object) if quad.subject.value == str(FACT_SET)
                         else quad)
    store.bulk_extend(quads)
    load_s = time.perf_counter() - t
    per_check = []
    rows = 0
    for rule_id in rule_ids:
        for crit in compiled.compiled[rule_id].criteria:
            for check in crit.checks:
                helper = reference.rules[rule_id].checks.get((check.shape, check.check))
                if helper is None:  # a SHACL core property shape: no SELECT of its own
                    continue
                text, subs = helper
                free = {var: value for var, value in subs.items() if var.value != "this"}
                t = time.perf_counter()
                rows += sum(1 for _ in store.query(text, substitutions=free))
                per_check.append(time.perf_counter() - t)
    print(f"  set-based SPARQL (Oxigraph), {n:,} bonds in one store: fact sets to quads and loaded {load_s:.2f}s "
          f"({len(store):,} quads); {len(per_check)} check SELECTs of the {len(rule_ids)} index rules, $this free: "
          f"{sum(per_check):.2f}s together (median {statistics.median(per_check):.3f}s, max {max(per_check):.3f}s; "
          f"{rows:,} rows), before any outcome is read from them")


def _columnar(n: int) -> None:
    import polars as pl

    # invented values and threshold: the cost of the approach, not a rule
    frame = pl.DataFrame({"residual_maturity_years": [round(0.2 + (i % 580) / 100, 2) for i in range(n)],
                          "outstanding_cny": [3e8 + (i % 7) * 1e8 for i in range(n)]})
    one = frame.head(1)
    expression = (pl.col("residual_maturity_years") >= 1) & (pl.col("outstanding_cny") >= 5e8)
    single = [_timed(lambda: one.select(expression.alias("ok"))) for _ in range(2000)]
    many = min(_timed(lambda: frame.select(expression.alias("ok"))) for _ in range(20))
    print(f"  columnar (Polars), one criterion's expression: on one row p50 {_pct(single, 0.5):.3f} ms / p99 "
          f"{_pct(single, 0.99):.3f} ms; on {n:,} rows {many:.1f} ms")
