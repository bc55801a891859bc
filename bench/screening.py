"""Screening a generated bond universe (invented bonds, bench/engine.py's generator) against every index rule:
through `connectkb screen` (a fresh process per size, so that its peak RSS is its own) and through
`POST /v1/screenings` on `connectkb serve` (the answer read as it streams; the server's peak RSS from /proc).
Prints rows/s, seconds and peak RSS for each; the sizes show whether memory grows with the input.

    python bench/screening.py [--rows 10000,100000]
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from engine import AS_OF, synthetic_bonds
from serving import served

REPO = Path(__file__).resolve().parent.parent


def _cell(value: object) -> str:
    if isinstance(value, list):
        return ";".join(value) or ";"  # a lone ';' is an empty list; an empty cell an absent fact
    if isinstance(value, dict):
        return f"{value['agency']}:{value['grade']}"
    return str(value)


def write_universe(path: Path, n: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        names: list[str] = []
        for i, bond in enumerate(synthetic_bonds(n), 1):
            if not names:
                names = list(bond)
                out.writerow(["id", *names])
            out.writerow([f"BENCH-{i}", *(_cell(bond[k]) for k in names)])


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (its threads included): what contention does not inflate."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    return f"load average {Path('/proc/loadavg').read_text().split()[0]} on {os.cpu_count()} cores"


def cli_one(path: Path, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.jsonl"
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "connectkb", "screen", str(path), "--rules", "index-*",
                               "--as-of", AS_OF.isoformat(), "--out", str(out), "--json"],
                              capture_output=True, text=True, cwd=REPO)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            print(f"screening CLI, {n} rows: failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
            return
        summary = json.loads(proc.stdout)
        with open(out, "rb") as fh:
            lines = sum(1 for _ in fh)
        size_mb = out.stat().st_size / 2**20
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
    rules = len(summary["rules_screened"])
    print(f"screening CLI `connectkb screen` {n} rows x {rules} index rules -> {lines} result lines "
          f"({size_mb:.0f} MB JSON Lines): screening {summary['seconds']:.2f}s ({n / summary['seconds']:,.0f} rows/s, "
          f"{n * rules / summary['seconds']:,.0f} answers/s); whole command {wall:.2f}s (KB load and compile "
          f"included, {cpu:.1f} CPU s); peak RSS {rss:.0f} MB; {_load()}", flush=True)


def _post_full_duplex(base: str, path: Path) -> tuple[int, int, int, bytes]:
    """POST the file while reading the answer as it streams (a thread sends, this one reads): the server
    answers before the body has all arrived, and an answer larger than what it may run ahead by
    (CONNECTKB_SCREEN_AHEAD_BYTES) waits for a client that reads only after sending."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=300)
    query = urllib.parse.urlencode({"rules": "index-*", "as_of": AS_OF.isoformat()})
    conn.putrequest("POST", f"/v1/screenings?{query}")
    for name, value in (("Content-Type", "text/csv"), ("Content-Length", str(path.stat().st_size)),
                        ("Accept-Encoding", "identity")):
        conn.putheader(name, value)
    conn.endheaders()

    def send() -> None:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 16):
                conn.sock.sendall(chunk)
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    response = conn.getresponse()
    lines = received = 0
    last = b""
    while part := response.read1(1 << 20):
        received += len(part)
        lines += part.count(b"\n")
        last = part[-300:]
    sender.join()
    conn.close()
    return response.status, lines, received, last


def through_http(paths: dict[int, Path]) -> None:
    with served() as (base, proc):
        for n, path in paths.items():
            size = path.stat().st_size

            cpu0 = _cpu_s(proc.pid)
            t = time.perf_counter()
            status, lines, received, last = _post_full_duplex(base, path)
            seconds = time.perf_counter() - t
            cpu = _cpu_s(proc.pid) - cpu0
            tail = last.rstrip().rsplit(b"\n", 1)[-1]
            ended = "an error line: " + tail.decode()[:120] if tail.startswith(b'{"error"') else "complete"
            print(f"screening HTTP POST /v1/screenings {n} rows ({size / 2**20:.1f} MB CSV streamed in) -> "
                  f"status {status}, {lines} NDJSON lines ({received / 2**20:.0f} MB streamed out, {ended}): "
                  f"{seconds:.2f}s ({n / seconds:,.0f} rows/s; server {cpu:.1f} CPU s); server peak RSS so far "
                  f"{_peak_rss_mb(proc.pid):.0f} MB; {_load()}",
                  flush=True)


DEFAULT_ROWS = "10000,100000"


def screening(args: argparse.Namespace) -> None:
    """The bench/run.py section: each size through the CLI, then all through HTTP."""
    sizes = [int(s) for s in str(getattr(args, "rows", DEFAULT_ROWS)).split(",") if s]
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for n in sizes:
            paths[n] = Path(tmp) / f"universe-{n}.csv"
            write_universe(paths[n], n)
        for n, path in paths.items():
            # each size in its own process: RUSAGE_CHILDREN keeps the largest child's peak
            subprocess.run([sys.executable, __file__, "--cli-one", str(path), "--n", str(n)], check=False,
                           env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "api"), str(REPO / "bench")])})
        through_http(paths)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default=DEFAULT_ROWS)
    parser.add_argument("--cli-one", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.cli_one:
        cli_one(Path(a.cli_one), a.n)
    else:
        screening(a)
