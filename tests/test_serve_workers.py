"""`connectkb serve --workers N`: N processes serve one port, each on a socket of its own; both take part when
a client opens its connections at once, and the first SIGTERM stops them all, leaving no process and no
temporary store behind."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .conftest import free_port


def _descendants(pid: int) -> set[int]:
    found, stack = set(), [pid]
    while stack:
        current = stack.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found.update(children)
            stack += children
    return found


def test_two_workers_serve_one_port_and_stop_on_the_first_sigterm(tmp_path: Path) -> None:
    port = free_port()
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    server = subprocess.Popen([sys.executable, "-m", "connectkb", "serve", "--port", str(port), "--workers", "2",
                               "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        answered = 0
        while time.monotonic() < deadline and answered < 20:
            try:
                r = httpx.post(f"http://127.0.0.1:{port}/v1/rules/witness-account-opening/evaluate", timeout=30,
                               json={"facts": {"age": 17}, "as_of": "2025-03-01"})
                assert r.status_code == 200 and r.json()["verdict"] == "ineligible"
                answered += 1
            except httpx.TransportError:
                time.sleep(0.5)
        assert answered == 20, server.stderr.read() if server.poll() is not None and server.stderr else "no answer"
        workers = _descendants(server.pid)
        assert len(workers) >= 2
        # a runaway query is in flight when the stop arrives
        runaway = subprocess.Popen([sys.executable, "-c", f"import httpx; httpx.get('http://127.0.0.1:{port}/sparql', "
                                    "params={'query': 'SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }'}, "
                                    "timeout=60)"], stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        assert time.monotonic() - started < 20
        runaway.kill()
        time.sleep(0.5)
        alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()
                 and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()]
        assert not alive, f"processes left running: {alive}"
        assert not list(temp.iterdir()), f"left behind in TMPDIR: {list(temp.iterdir())}"
    finally:
        if server.poll() is None:
            server.kill()


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_two_workers_share_clients_that_open_their_connections_at_once() -> None:
    """A client opening its keep-alive connections all at once is served by both workers, not by whichever
    woke first (the workers' CPU time shows who answered)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "connectkb", "serve", "--port", str(port), "--workers", "2",
                               "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert server.stderr is not None
        ready = 0
        while ready < 2:  # both workers built their apps
            line = server.stderr.readline()
            assert line, f"the server stopped before its workers were ready (exit {server.poll()})"
            ready += b"ready" in line
        workers = [int(c) for c in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()]
        assert len(workers) == 2
        before = {pid: _cpu_ticks(pid) for pid in workers}
        # every connection opened before the first request, in a burst, as wrk opens them: the kernel
        # completes them all before a worker wakes to accept
        clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(32)]
        body = json.dumps({"facts": {"age": 17}, "as_of": "2025-03-01"})
        try:
            for client in clients:
                client.connect()
            for _ in range(15):
                for client in clients:
                    client.request("POST", "/v1/rules/witness-account-opening/evaluate", body,
                                   {"Content-Type": "application/json"})
                    answer = client.getresponse()
                    answer.read()
                    assert answer.status == 200
        finally:
            for client in clients:
                client.close()
        used = {pid: _cpu_ticks(pid) - before[pid] for pid in workers}
        assert min(used.values()) >= 0.1 * sum(used.values()), f"CPU ticks per worker: {used}"
    finally:
        server.terminate()
        server.wait(timeout=30)
