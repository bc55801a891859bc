"""The compiled rules engine against the reference (pySHACL): compile time; single evaluations in process
per rule (messages and citations included), reference vs compiled, with the p99 of a CPU-only loop of
the same length as the machine's own floor; bulk screening from JSON Lines (the index rules × generated
bonds, every per-criterion outcome; each size in a fresh process, so that its peak RSS is its own); and,
with --differential N, N generated fact sets per rule checked against the reference.

    python bench/engine.py [--bulk 1000,10000,100000,1000000] [--runs 2000] [--differential 0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2012, 8, 1)


def _questions() -> list[tuple[str, dict, dt.date]]:
    out = []
    for path in sorted((REPO / "tests" / "rules").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for q in doc["questions"]:
            out.append((q.get("rule") or doc["rule"], q["facts"], dt.date.fromisoformat(str(q["as_of"]))))
    return out


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def synthetic_bonds(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Invented bonds (not facts) spread over the index rules' criteria, reproducible by seed."""
    rng = random.Random(seed)
    for _ in range(n):
        yield {"residual_maturity_years": round(rng.uniform(0.2, 6), 2),
               "outstanding_cny": rng.choice([3e8, 6e8, 8e8, 1.2e9, 3e9]) + rng.randint(0, 10**6),
               "coupon_type": rng.choice(["fixed", "fixed", "floating", "zero"]),
               "denomination_currency": "CNY", "settlement_currency": rng.choice(["CNY", "CNY", "USD"]),
               "features": rng.choice([[], [], ["synthetic"], ["retail"], ["puttable"]]),
               "issuer_type": rng.choice(["central-government", "policy-bank", "corporate", "foreign-corporate"]),
               "issuer_domicile": rng.choice(["mainland", "offshore"]),
               "bond_type": rng.choice(["chinese-government-bond", "policy-bank-bond", "corporate-bond"]),
               "issue_rating": {"agency": "moodys", "grade": rng.choice(["A2", "Baa3", "Ba1"])}}


def _engines():
    sys.path.insert(0, str(REPO / "api"))
    from connectkb.knowledge.entities import EntityService
    from connectkb.knowledge.load import load
    from connectkb.rules.compiled import CompiledRules
    from connectkb.rules.engine import RulesEngine

    kb = load()
    entities = EntityService(kb.backend)
    t0 = time.perf_counter()
    reference = RulesEngine(kb.backend, entities.citations, entities.label_of)
    t1 = time.perf_counter()
    compiled = CompiledRules(reference)
    t2 = time.perf_counter()
    return reference, compiled, t1 - t0, t2 - t1


def _floor(mean_ms: float, count: int) -> tuple[float, float]:
    """p50/p99 of a CPU-only Python loop as long as an evaluation: what the machine itself adds."""
    def spin(n: int) -> int:
        s = 0
        for i in range(n):
            s += i
        return s
    n = 1000
    t = time.perf_counter()
    spin(n)
    per = (time.perf_counter() - t) * 1000 / n
    n = max(1, int(mean_ms / max(per, 1e-6)))
    times = []
    for _ in range(count):
        t = time.perf_counter()
        spin(n)
        times.append((time.perf_counter() - t) * 1000)
    return _pct(times, 0.5), _pct(times, 0.99)


def bulk_one(n: int) -> None:
    """One bulk size, in this (fresh) process: JSON Lines written first, then timed from the file to the
    result table."""
    import polars  # noqa: F401  (imported before the clock starts: a once-per-process cost)
    reference, compiled, _, _ = _engines()
    index_rules = sorted(r for r in reference.rules if r.startswith("index-"))
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        for bond in synthetic_bonds(n):
            fh.write(json.dumps(bond) + "\n")
        path = fh.name
    size_mb = Path(path).stat().st_size / 2**20
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    result = compiled.evaluate_jsonl(index_rules, path, AS_OF)
    done = time.perf_counter()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = done - t
    s = time.perf_counter()
    stacked = result.to_polars()
    stack_s = time.perf_counter() - s
    verdicts = dict(sorted(stacked.group_by("verdict").len().iter_rows()))
    engines = sorted(set(stacked["engine"].unique().to_list()))
    Path(path).unlink()
    print(f"bulk: {n} bonds x {len(index_rules)} index rules = {len(result)} evaluations "
          f"({len(stacked.columns) - 5} criterion columns, engine {'/'.join(engines)}): {t:.2f}s from JSON Lines "
          f"({size_mb:.0f} MB) to the result table ({len(result) / t:,.0f} evaluations/s; stacked into one "
          f"table +{stack_s:.2f}s); peak RSS {rss_mb:.0f} MB (before: {rss_before:.0f} MB); verdicts {verdicts}",
          flush=True)


_DIFF: dict[str, Any] = {}


def _differential_rule(task: tuple[int, str, int]) -> tuple[str, int, int, list[str], float]:
    """One rule's generated fact sets through both engines (in a forked worker holding both)."""
    from connectkb.rules.engine import FactError
    from tests.compiled_factgen import FactGenerator

    n, rule_id, count = task
    reference, compiled = _DIFF["reference"], _DIFF["compiled"]

    def run(fn: Any, *call: Any) -> Any:
        try:
            return fn(*call)
        except FactError as exc:
            return ("FactError", exc.field, exc.message)

    t = time.perf_counter()
    gen = FactGenerator(reference.rules[rule_id], 20250113 + 7919 * (n + 1))
    bad, examples = 0, []
    for i in range(count):
        facts, as_of = gen.fact_set()
        call = (rule_id, facts, as_of, "zh" if i % 5 == 4 else "en")
        if run(lambda *c: reference.evaluate(*c)[0], *call) != run(compiled.evaluate, *call):
            bad += 1
            if len(examples) < 3:
                examples.append(json.dumps({"facts": facts, "as_of": str(as_of)}, ensure_ascii=False))
    return rule_id, count, bad, examples, time.perf_counter() - t


def _differential(reference: Any, compiled: Any, per_rule: int, workers: int) -> None:
    """N generated fact sets per compiled rule, the reference's answer against the compiled one, compared whole
    (verdict, outcomes, messages, citations, missing facts, next fact). Rules run in forked workers."""
    import multiprocessing

    sys.path.insert(0, str(REPO))
    _DIFF.update(reference=reference, compiled=compiled)
    tasks = [(n, rule_id, per_rule) for n, rule_id in enumerate(sorted(compiled.compiled))]
    t = time.perf_counter()
    checked = bad = 0
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for rule_id, count, differ, examples, seconds in pool.imap_unordered(_differential_rule, tasks):
            checked, bad = checked + count, bad + differ
            print(f"  differential {rule_id}: {count} fact sets, {differ} differ ({seconds:.0f}s)"
                  + "".join(f"\n    e.g. {e}" for e in examples), flush=True)
    print(f"differential: {checked} generated fact sets ({per_rule} per rule, {len(tasks)} rules, {workers} "
          f"workers): {bad} differ ({time.perf_counter() - t:.0f}s)", flush=True)


def engine(args: argparse.Namespace) -> None:
    reference, compiled, t_ref, t_comp = _engines()
    n_compiled = len(compiled.compiled)
    print(f"start-up: reference engine {t_ref:.3f}s, compile {t_comp:.3f}s "
          f"({n_compiled} of {len(reference.rules)} rules compiled)")
    for rule_id in sorted(reference.rules):
        kind, why = compiled.engine_for(rule_id)
        if kind != "compiled":
            print(f"  {rule_id}: reference ({why})")

    questions = _questions()
    by_rule: dict[str, list[tuple[str, dict, dt.date]]] = {}
    for q in questions:
        by_rule.setdefault(q[0], []).append(q)
    runs = args.eval_runs
    all_times: dict[str, list[float]] = {"reference": [], "compiled": []}
    print(f"single evaluation in process (the rule questions of tests/rules/, en/zh alternating, messages + "
          f"citations): p50 / p99 ms, reference ({max(20, runs // 50)} per rule) vs compiled ({runs} per rule)")
    for rule_id in sorted(by_rule):
        qs = by_rule[rule_id]
        line = []
        def ref_eval(r: str, f: dict, d: dt.date, lang: str) -> dict:
            return reference.evaluate(r, f, d, lang)[0]
        for name, fn, count in (("reference", ref_eval, max(20, runs // 50)), ("compiled", compiled.evaluate, runs)):
            times = []
            for i in range(count):
                _, facts, as_of = qs[i % len(qs)]
                t = time.perf_counter()
                fn(rule_id, facts, as_of, "zh" if i % 2 else "en")
                times.append((time.perf_counter() - t) * 1000)
            all_times[name] += times
            line.append(f"{name} {_pct(times, 0.5):.3f} / {_pct(times, 0.99):.3f}")
        print(f"  {rule_id} ({len(qs)} questions): {'; '.join(line)}")
    for name, times in all_times.items():
        print(f"single evaluation, {name}, all rules ({len(times)} evaluations): p50 {_pct(times, 0.5):.3f} ms, "
              f"p99 {_pct(times, 0.99):.3f} ms, mean {statistics.mean(times):.3f} ms, max {max(times):.3f} ms")
    mean = statistics.mean(all_times["compiled"])
    f50, f99 = _floor(mean, len(all_times["compiled"]))
    print(f"  machine floor: a CPU-only loop of {mean:.3f} ms timed the same way: p50 {f50:.3f} ms, p99 {f99:.3f} ms "
          f"(load average {Path('/proc/loadavg').read_text().split()[0]} on {os.cpu_count()} cores)")

    if args.differential:
        _differential(reference, compiled, args.differential, args.differential_workers)
    else:
        print("differential: not run here (--differential N; tests/test_compiled_engine.py runs it in CI)")

    for n in [int(s) for s in str(args.bulk).split(",") if s]:
        proc = subprocess.run([sys.executable, __file__, "--bulk-one", str(n)], capture_output=True, text=True)
        out = [line for line in proc.stdout.splitlines() if line.startswith("bulk:")]
        if proc.returncode != 0 or not out:
            print(f"bulk: {n} bonds: failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
        else:
            print(out[0], flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bulk", default="1000,10000,100000,1000000")
    parser.add_argument("--bulk-one", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--eval-runs", type=int, default=2000)
    parser.add_argument("--differential", type=int, default=0)
    parser.add_argument("--differential-workers", type=int, default=os.cpu_count() or 1)
    a = parser.parse_args()
    if a.bulk_one:
        bulk_one(a.bulk_one)
    else:
        engine(a)
