"""connectkb benchmarks: every performance figure of the product, measured in one run.

    python bench/run.py                 # every section
    python bench/run.py cold-start      # one section
    python bench/run.py rules-http --duration 10 --connections 16
    python bench/run.py soak            # half of peak for 60 s with hostile requests arriving

HTTP sections start `connectkb serve` (one uvicorn worker) on a free loopback port and load it with
wrk (Debian package `wrk`), comparing each endpoint with the same app's hello-world (`GET /ping`).
Figures are never asserted in tests: machines differ.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from candidates import candidates
from engine import engine, synthetic_bonds
from screening import screening
from serving import free_port, served, wait_until_up
from soak import soak
from weights import weights

REPO = Path(__file__).resolve().parent.parent


def cold_start(args: argparse.Namespace) -> None:
    """Load + validate, in process (by phase) and as a fresh `connectkb validate` process."""
    from connectkb.knowledge.load import load

    phases: dict[str, list[float]] = {}
    for _ in range(args.runs):
        kb = load()
        for name, seconds in kb.timings.items():
            phases.setdefault(name, []).append(seconds)
    print(f"cold start, in process ({args.runs} runs, {kb.triple_count} triples): " + ", ".join(
        f"{name} median {statistics.median(v):.3f}s" for name, v in phases.items()))
    walls, phases = [], {}
    # `pip install` leaves every module's bytecode beside it; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE would recompile connectkb's sources at every start: the first, unmeasured
    # run writes the bytecode an install would have
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    validate = [sys.executable, "-m", "connectkb", "validate", "--json"]
    subprocess.run(validate, check=True, capture_output=True, env=env)
    for _ in range(max(2, args.runs // 2)):
        t0 = time.perf_counter()
        done = subprocess.run(validate, check=True, capture_output=True, text=True, env=env)
        walls.append(time.perf_counter() - t0)
        for name, seconds in json.loads(done.stdout)["timings_s"].items():
            phases.setdefault(name, []).append(seconds)
    print(f"cold start, fresh process `connectkb validate` (imports + parse + SHACL + quotes + every rule compiled): "
          f"median {statistics.median(walls):.3f}s, max {max(walls):.3f}s over {len(walls)} runs; of which "
          + ", ".join(f"{name} {statistics.median(v):.3f}s" for name, v in phases.items())
          + f" (load average {Path('/proc/loadavg').read_text().split()[0]})")
    # machines (and one machine from day to day) differ: a fixed pure-Python loop puts the figures in scale
    loop = min(timeit.repeat("sum(range(10_000_000))", number=1, repeat=5))
    print(f"  machine speed: sum(range(10_000_000)) takes {loop * 1000:.0f} ms here (best of 5)")


@contextmanager
def _server() -> Iterator[str]:
    with served() as (base, _):
        yield base


_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk(url: str, args: argparse.Namespace, lua: str | None = None) -> dict[str, float]:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if lua:
            script.write(lua)
    if lua:
        cmd[1:1] = ["-s", script.name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: float(v) * _UNIT[u] for p, v, u in _LATENCY.findall(out)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": latency["50"], "p99_ms": latency["99"],
            "non_2xx": float(errors.group(1)) if errors else 0.0}


def _post_script(path_and_bodies: list[tuple[str, str]]) -> str:
    entries = ",\n".join(f"{{ {json.dumps(p)}, {json.dumps(b)} }}" for p, b in path_and_bodies)
    return f"""
requests_list = {{ {entries} }}
i = 0
request = function()
  i = i % #requests_list + 1
  local r = requests_list[i]
  return wrk.format("POST", r[1], {{["Content-Type"] = "application/json"}}, r[2])
end
"""


def _rule_requests() -> list[tuple[str, str]]:
    """Every question of tests/rules/*.yaml: varied rules, facts, dates and verdicts."""
    out = []
    for path in sorted((REPO / "tests" / "rules").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for q in doc["questions"]:
            rule = q.get("rule") or doc["rule"]
            out.append((f"/v1/rules/{rule}/evaluate", json.dumps({"facts": q["facts"], "as_of": q["as_of"]})))
    return out


def _generated_requests(per_rule: int) -> list[tuple[str, str]]:
    """Fact sets generated for every rule (tests/compiled_factgen.py: values over each fact's domain, absent
    facts, thresholds' boundaries, as-of dates either side of each change), each asked once in a run: no
    answer, search or cache entry is met twice, as the rule questions are. Those the API refuses (a
    malformed fact, 422) are left out, so that every answer measured is an evaluation."""
    sys.path.insert(0, str(REPO))
    from connectkb.engines import build_engines
    from connectkb.knowledge.load import load
    from connectkb.rules.engine import FactError
    from tests.compiled_factgen import FactGenerator

    engines = build_engines(load().backend)
    out = []
    for n, (rule_id, rule) in enumerate(sorted(engines.rules.rules.items())):
        gen = FactGenerator(rule, 4099 + n)
        while sum(path.startswith(f"/v1/rules/{rule_id}/") for path, _ in out) < per_rule:
            facts, as_of = gen.fact_set()
            try:
                engines.compiled.evaluate(rule_id, facts, as_of)
            except FactError:
                continue
            out.append((f"/v1/rules/{rule_id}/evaluate", json.dumps({"facts": facts, "as_of": as_of.isoformat()})))
    random.Random(11).shuffle(out)
    return out


def _report(name: str, figures: dict[str, float], baseline: dict[str, float] | None) -> None:
    ratio = f", {figures['rps'] / baseline['rps']:.3f} of hello-world" if baseline else ""
    print(f"  {name:<60} {figures['rps']:>9.1f} req/s  p50 {figures['p50_ms']:>7.2f} ms  "
          f"p99 {figures['p99_ms']:>7.2f} ms  non-2xx {int(figures['non_2xx'])}{ratio}")


def rules_http(args: argparse.Namespace) -> None:
    """POST /v1/rules/{id}/evaluate with varied inputs against GET /ping, over HTTP, with one worker and
    with two (`connectkb serve --workers 2`: one socket with TCP_NODELAY, forked workers)."""
    if not shutil.which("wrk"):
        sys.exit("rules-http needs wrk: apt-get install wrk")
    requests = _rule_requests()
    # an ineligible or undetermined answer carries the counterfactual search by default; without it, the
    # evaluation alone
    plain = [(f"{path}?counterfactuals=false", body) for path, body in requests]
    # per rule, more than a run asks for (some 2,000 requests/s per worker over 18 rules): none is asked twice
    per_rule = max(200, args.duration * 250)
    generated = _generated_requests(per_rule)
    mixes = {"POST …/evaluate": requests, "POST …/evaluate?counterfactuals=false": plain,
             "POST …/evaluate, generated fact sets": generated,
             # the same unrepeated fact sets, the evaluation alone: what the search adds shows beside it
             "POST …/evaluate?counterfactuals=false, generated": [(f"{path}?counterfactuals=false", body)
                                                                  for path, body in generated]}
    figures: dict[int, dict[str, dict[str, float]]] = {}
    for workers in (1, 2):
        with served("--workers", str(workers)) as (base, _):
            _wrk(base + "/ping", argparse.Namespace(**{**vars(args), "duration": 2}))  # warm-up
            _wrk(base, argparse.Namespace(**{**vars(args), "duration": 2}), _post_script(requests))
            before = _wrk(base + "/ping", args)
            figures[workers] = {name: _wrk(base, args, _post_script(mix)) for name, mix in mixes.items()}
            # hello-world before and after: the faster of the two is the yardstick (the SPARQL pool's
            # workers load the KB in the first seconds, and the machine may be busy for a while)
            after = _wrk(base + "/ping", args)
            figures[workers] = {"GET /ping (hello-world)": max(before, after, key=lambda f: f["rps"]),
                                **figures[workers]}
    print(f"rules over HTTP (compiled engine; wrk -t{args.threads} -c{args.connections} -d{args.duration}s; "
          f"{len(requests)} varied evaluation requests: every rule question of tests/rules/, in turn; and "
          f"{len(generated)} generated fact sets, {per_rule} a rule, none asked twice):")
    for workers, by_mix in figures.items():
        hello = by_mix["GET /ping (hello-world)"]
        for name, figure in by_mix.items():
            _report(f"{workers} worker(s): {name}", figure, None if figure is hello else hello)
    print("  2 workers / 1 worker: " + ", ".join(
        f"{name.removeprefix('POST …/')} {figures[2][name]['rps'] / figures[1][name]['rps']:.2f}" for name in mixes))


POINT_QUERY = ("SELECT ?l WHERE { <https://w3id.org/connectkb/id/hsbc> "
               "<http://www.w3.org/2000/01/rdf-schema#label> ?l }")


@contextmanager
def _oxigraph_server() -> Iterator[str]:
    """A raw Oxigraph server (the `oxigraph` package) holding the same KB, for the baseline."""
    port = free_port()
    directory = tempfile.mkdtemp(prefix="connectkb-bench-oxigraph-")
    binary = str(Path(sys.executable).parent / "oxigraph") if (Path(sys.executable).parent / "oxigraph").exists() \
        else "oxigraph"
    proc = subprocess.Popen([binary, "serve", "--location", directory, "--bind", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/", proc, 30)
        subprocess.run([sys.executable, "-m", "connectkb", "load", "--store", base + "/query"], check=True,
                       capture_output=True)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)


def sparql_http(args: argparse.Namespace) -> None:
    """A SPARQL point query over HTTP: the endpoint vs the app's hello-world vs a raw Oxigraph server."""
    if not shutil.which("wrk") or not (shutil.which("oxigraph") or (Path(sys.executable).parent / "oxigraph").exists()):
        sys.exit("sparql-http needs wrk (apt-get install wrk) and the oxigraph server (pip install oxigraph)")
    from urllib.parse import quote

    query = "?query=" + quote(POINT_QUERY)
    ids = ["hsbc", "boc", "icbc", "ccb", "cmb", "bank-of-east-asia", "standard-chartered", "bank-of-communications",
           "abc", "bochk", "bnp-paribas", "citibank", "hang-seng-bank", "icbc-asia", "ccb-asia", "pboc", "hkma",
           "sfc", "hkex", "otcc", "cmu", "cfets", "rmb-liquidity-facility", "rmb-trade-financing-liquidity-facility",
           "witness-account-opening", "fps-ibps-link", "northbound-bond-connect", "southbound-bond-connect"]
    paths = [POINT_QUERY.replace("/id/hsbc>", f"/id/{i}>") for i in ids]
    varied = "paths = {" + ", ".join('"' + "/sparql?query=" + quote(p) + '"' for p in paths) + "}\n" + \
        "i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n"
    raw_varied = varied.replace("/sparql?query=", "/query?query=")
    with _server() as base, _oxigraph_server() as oxigraph:
        _wrk(base + "/ping", argparse.Namespace(**{**vars(args), "duration": 2}))
        hello = _wrk(base + "/ping", args)
        endpoint = _wrk(base + "/sparql" + query, args)
        endpoint_varied = _wrk(base, args, varied)
        raw = _wrk(oxigraph + "/query" + query, args)
        raw_varied_figures = _wrk(oxigraph, args, raw_varied)
    print(f"SPARQL point query over HTTP (connectkb: 1 uvicorn worker + 2 query workers; wrk -t{args.threads} "
          f"-c{args.connections} -d{args.duration}s):")
    _report("GET /ping (hello-world, same app)", hello, None)
    _report("GET /sparql?query=<one point query, repeated>", endpoint, hello)
    _report(f"GET /sparql?query=<{len(ids)} varied point queries, parse cached>", endpoint_varied, hello)
    _report("raw Oxigraph server, same point query", raw, None)
    _report(f"raw Oxigraph server, {len(ids)} varied point queries", raw_varied_figures, None)
    print(f"  endpoint / raw Oxigraph server: {endpoint['rps'] / raw['rps']:.3f} (repeated), "
          f"{endpoint_varied['rps'] / raw_varied_figures['rps']:.3f} (varied)")


def bulk_screening(args: argparse.Namespace) -> None:
    """Many bonds against every index rule, in process (DESIGN's bulk-screening bar): the compiled engine's
    `evaluate_many` against the reference (pySHACL), one evaluation at a time, on the same bonds; the
    `engine` section screens up to a million."""
    import datetime as dt

    from connectkb.engines import load_engines

    _, engines = load_engines()
    reference, compiled = engines.rules, engines.compiled
    index_rules = sorted(r for r in reference.rules if r.startswith("index-"))
    bonds = list(synthetic_bonds(args.bonds))
    day = dt.date(2012, 8, 1)
    verdicts: dict[str, int] = {}
    t0 = time.perf_counter()
    for bond in bonds:
        for rule in index_rules:
            answer, _ = reference.evaluate(rule, bond, day)
            verdicts[answer["verdict"]] = verdicts.get(answer["verdict"], 0) + 1
    slow = time.perf_counter() - t0
    t0 = time.perf_counter()
    table = compiled.evaluate_many(index_rules, bonds, day).to_polars()
    fast = time.perf_counter() - t0
    same = {k: v for k, v in sorted(table["verdict"].value_counts().iter_rows())} == dict(sorted(verdicts.items()))
    evaluations = len(bonds) * len(index_rules)
    print(f"bulk screening: {len(bonds)} bonds x {len(index_rules)} index rules = {evaluations} evaluations: "
          f"reference (pySHACL, one at a time) {slow:.2f}s, {evaluations / slow:,.0f} evaluations/s; compiled "
          f"(evaluate_many) {fast:.3f}s, {evaluations / fast:,.0f} evaluations/s: {slow / fast:,.0f}x; "
          f"verdicts {verdicts} ({'the same' if same else 'NOT the same'} from both engines)")


def timeline(args: argparse.Namespace) -> None:
    """A ten-year timeline of one fact set, in process (issue 13's bar: 20 ms), for every rule's first
    question; and one counterfactual search per rule's first ineligible question."""
    import datetime as dt

    from connectkb.knowledge.load import load
    from connectkb.time.known_at import engines_for

    kb = load()
    engines = engines_for(kb.backend, kb.release, None, True)
    first: dict[str, dict] = {}
    failing: dict[str, tuple[dict, dt.date]] = {}
    for path in sorted((REPO / "tests" / "rules").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for q in doc["questions"]:
            rule = q.get("rule") or doc["rule"]
            first.setdefault(rule, q["facts"])
            if q["verdict"] != "eligible":
                failing.setdefault(rule, (q["facts"], dt.date.fromisoformat(str(q["as_of"]))))
    start, end = dt.date(2017, 1, 1), dt.date(2026, 12, 31)
    costs, intervals = {}, {}
    for rule, facts in first.items():
        engines.timelines.timeline(rule, facts, start, end)  # warm: the slice's dates and citations
        runs = []
        for _ in range(args.runs * 20):
            t0 = time.perf_counter()
            answer = engines.timelines.timeline(rule, facts, start, end)
            runs.append(time.perf_counter() - t0)
        costs[rule], intervals[rule] = statistics.median(runs), len(answer["intervals"])
    worst = max(costs, key=costs.__getitem__)
    print(f"ten-year timeline ({start} … {end}), in process, median of {args.runs * 20} runs per rule: "
          f"median over {len(costs)} rules {statistics.median(costs.values()) * 1000:.2f} ms, worst "
          f"{costs[worst] * 1000:.2f} ms ({worst}, {intervals[worst]} intervals); goal ≤ 20 ms")
    searches = {}
    for rule, (facts, day) in failing.items():
        t0 = time.perf_counter()
        found = engines.counterfactuals.search(rule, facts, day)
        searches[rule] = (time.perf_counter() - t0, found.get("evaluations", 0))
    slowest = max(searches, key=lambda r: searches[r][0])
    print(f"counterfactual search, one ineligible question per rule ({len(searches)} rules): median "
          f"{statistics.median(s for s, _ in searches.values()) * 1000:.2f} ms, worst "
          f"{searches[slowest][0] * 1000:.2f} ms ({slowest}, {searches[slowest][1]} outcomes evaluated)")


SECTIONS = {"cold-start": cold_start, "rules-http": rules_http, "sparql-http": sparql_http,
            "bulk-screening": bulk_screening, "engine": engine, "candidates": candidates, "soak": soak,
            "weights": weights, "timeline": timeline, "screening": screening}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", help=f"any of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bonds", type=int, default=200)
    parser.add_argument("--eval-runs", type=int, default=2000, help="compiled evaluations per rule (engine)")
    parser.add_argument("--bulk", default="1000,10000,100000,1000000", help="bond counts to screen (engine)")
    parser.add_argument("--candidates-n", type=int, default=10_000,
                        help="generated bonds for the bulk figures of the engine designs compared (candidates)")
    parser.add_argument("--differential", type=int, default=0,
                        help="generated fact sets per rule to compare with pySHACL (engine); 10000 takes about an hour "
                             "of CPU, shared among --differential-workers forked processes")
    parser.add_argument("--differential-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--soak-rate", type=float, default=0,
                        help="requests/s the soak offers (default: half of the measured peak)")
    parser.add_argument("--soak-seconds", type=float, default=60, help="how long the soak section holds its load")
    args = parser.parse_args()
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {sorted(SECTIONS)}")
    for name in args.sections or SECTIONS:
        print(f"== {name}")
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
