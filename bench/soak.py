"""Soak: half of the peak request rate for a minute, on a mix of health, SPARQL and rule evaluation,
while hostile requests arrive (a runaway SPARQL query and an oversize evaluation body).

The normal requests must see no errors, and the server's memory (its own process and its SPARQL
workers) must stay flat. The peak is measured first, closed-loop, on the same mix; the soak then
sends requests open-loop at half that rate, so a slow server shows as latency and errors, not as a
lower offered load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
from collections import Counter
from pathlib import Path

import httpx
from serving import served

SPARQL_POINT = ("PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> SELECT ?l WHERE "
                "{ <https://w3id.org/connectkb/id/hsbc> rdfs:label ?l }")
# a cross product the time limit has to stop
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
FAILURES: Counter[str] = Counter()
EVALUATION = {"facts": {"age": 30, "hk_permanent_resident": True, "witness_bank": "boc"}, "as_of": "2025-03-01"}


def _rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (the SPARQL workers), in KiB."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total


async def _normal(client: httpx.AsyncClient, kind: str) -> tuple[str, bool, float]:
    """One normal request; ok means 200 (any other answer, or none, is an error of the soak)."""
    t0 = time.perf_counter()
    try:
        if kind == "health":
            response = await client.get("/health")
        elif kind == "sparql":
            response = await client.get("/sparql", params={"query": SPARQL_POINT},
                                        headers={"Accept": "application/sparql-results+json"})
        else:
            response = await client.post("/v1/rules/witness-account-opening/evaluate", json=EVALUATION)
        ok = response.status_code == 200
        if not ok:
            FAILURES[f"{kind} {response.status_code} {response.text[:120]}"] += 1
    except httpx.HTTPError as exc:
        ok = False
        FAILURES[f"{kind} {type(exc).__name__}"] += 1
    return kind, ok, time.perf_counter() - t0


async def _offer(base: str, rate: float, seconds: float, results: list[tuple[str, bool, float]]) -> float:
    """Send the mix open-loop at `rate` requests/s for `seconds`; every answer is appended to `results`.
    One client (connection pool) per kind of request, as separate users would have: a slow answer of
    one kind must not hold the connections another kind needs. Returns the wall time, answers included."""
    kinds = ["health", "sparql", "evaluate"]
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    start = time.perf_counter()
    async with contextlib.AsyncExitStack() as stack:
        clients = {kind: await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=30, limits=limits))
                   for kind in kinds}
        pending: set[asyncio.Task[tuple[str, bool, float]]] = set()
        sent = 0
        while (now := time.perf_counter()) < start + seconds:
            while sent < int((now - start) * rate):
                kind = kinds[sent % 3]
                task = asyncio.create_task(_normal(clients[kind], kind))
                pending.add(task)
                task.add_done_callback(lambda t: (pending.discard(t), results.append(t.result())))
                sent += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*pending)
    return time.perf_counter() - start


async def _sustained_peak(base: str, step_s: float = 6.0) -> float:
    """The highest offered rate of the mix that is served in full: every answer a 200, the achieved rate
    within 5% of the offered one, p99 under half a second. Found by raising the rate step by step, with
    the same open-loop client the soak uses (a closed loop overstates what it can sustain)."""
    best = 0.0
    for rate in (50, 75, 100, 125, 150, 200, 250, 300, 400, 500, 700):
        results: list[tuple[str, bool, float]] = []
        elapsed = await _offer(base, rate, step_s, results)
        latencies = sorted(r[2] for r in results)
        p99 = latencies[int(0.99 * (len(latencies) - 1))] if latencies else 0.0
        served = all(r[1] for r in results) and len(results) / elapsed >= 0.95 * rate and p99 < 0.5
        print(f"  offered {rate} req/s for {step_s:g} s: achieved {len(results) / elapsed:.1f} req/s, "
              f"p99 {p99 * 1000:.0f} ms, errors {sum(1 for r in results if not r[1])}"
              + ("" if served else " (not sustained)"), flush=True)
        if not served:
            break
        best = float(rate)
    return best


async def _hostile(base: str, deadline: float, every_s: float, oversize_bytes: int) -> dict[str, list[int]]:
    """A runaway query and an oversize body, one of each every `every_s` seconds, answers recorded."""
    statuses: dict[str, list[int]] = {"runaway": [], "oversize": []}
    body = json.dumps({"facts": {"age": 30, "padding": "x" * oversize_bytes}})
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while time.perf_counter() < deadline:
            runaway, oversize = await asyncio.gather(
                client.get("/sparql", params={"query": RUNAWAY}),
                client.post("/v1/rules/witness-account-opening/evaluate", content=body,
                            headers={"Content-Type": "application/json"}),
                return_exceptions=True)
            statuses["runaway"].append(runaway.status_code if isinstance(runaway, httpx.Response) else -1)
            statuses["oversize"].append(oversize.status_code if isinstance(oversize, httpx.Response) else -1)
            await asyncio.sleep(every_s)
    return statuses


async def _soak(base: str, pid: int, rate: float, seconds: float, oversize_bytes: int) -> None:
    kinds = ["health", "sparql", "evaluate"]
    results: list[tuple[str, bool, float]] = []
    rss: list[tuple[float, int]] = []
    start = time.perf_counter()
    deadline = start + seconds

    async def sample_memory() -> None:
        while time.perf_counter() < deadline:
            rss.append((time.perf_counter() - start, _rss_kb(pid)))
            await asyncio.sleep(1)

    hostile = asyncio.create_task(_hostile(base, deadline, 5.0, oversize_bytes))
    memory = asyncio.create_task(sample_memory())
    await _offer(base, rate, seconds, results)
    statuses = await hostile
    await memory
    elapsed = time.perf_counter() - start
    print(f"soak: {len(results)} normal requests in {elapsed:.1f}s at a target of {rate:.1f} req/s "
          f"(achieved {len(results) / elapsed:.1f} req/s)")
    for kind in kinds:
        mine = [r for r in results if r[0] == kind]
        errors = sum(1 for r in mine if not r[1])
        latencies = sorted(r[2] * 1000 for r in mine)
        p99 = latencies[int(0.99 * (len(latencies) - 1))] if latencies else 0.0
        print(f"  {kind:<9} {len(mine):>6} requests, {errors} errors, p50 "
              f"{statistics.median(latencies) if latencies else 0:.1f} ms, p99 {p99:.1f} ms")
    for failure, count in FAILURES.most_common(5):
        print(f"  failed x{count}: {failure}")
    print(f"  hostile: runaway SPARQL answered {sorted(set(statuses['runaway']))} x{len(statuses['runaway'])}, "
          f"{oversize_bytes // 1_000_000} MB evaluation body answered {sorted(set(statuses['oversize']))} "
          f"x{len(statuses['oversize'])}")
    window = min(10.0, seconds / 3)
    first = statistics.mean(kb for t, kb in rss if t < window) / 1024
    last = statistics.mean(kb for t, kb in rss if t > seconds - window) / 1024
    peak = max(kb for _, kb in rss) / 1024
    print(f"  server RSS (process + SPARQL workers): first {window:.0f} s {first:.0f} MiB, last {window:.0f} s "
          f"{last:.0f} MiB, "
          f"peak {peak:.0f} MiB, growth {last - first:+.0f} MiB")


def soak(args: argparse.Namespace) -> None:
    with served() as (base, proc):
        print("peak of the mix (health, SPARQL point query, evaluation in equal shares), no hostile requests:")
        peak = asyncio.run(_sustained_peak(base))
        print(f"peak sustained: {peak:.0f} req/s")
        rate = args.soak_rate or peak / 2
        asyncio.run(_soak(base, proc.pid, rate, args.soak_seconds, 5_000_000))
