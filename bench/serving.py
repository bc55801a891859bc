"""Starting `connectkb serve` for a benchmark: a free loopback port, and the process, until it answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{proc.args[0]} did not start serving {url}") from None
            time.sleep(0.2)


@contextmanager
def served(*extra: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`connectkb serve` on a free port: its base URL and its process, once every worker says it is ready
    (a worker still starting would otherwise be measured as a slow one)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "connectkb", "serve", "--port", str(port), "--log-level",
                             "warning", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    workers = int(extra[extra.index("--workers") + 1]) if "--workers" in extra else 1
    ready = threading.Semaphore(0)

    def drain() -> None:  # read the server's log as it comes, so that a full pipe never blocks it
        assert proc.stderr is not None
        for line in proc.stderr:
            if b"ready" in line:
                ready.release()

    threading.Thread(target=drain, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(workers):
            if not ready.acquire(timeout=120):
                raise RuntimeError(f"connectkb serve {' '.join(extra)}: not every worker became ready")
        wait_until_up(base + "/health", proc, 120)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
