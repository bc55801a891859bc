"""Starting `connectkb serve` for a benchmark: a free loopback port, and the process, until it answers."""

from __future__ import annotations

import socket
import subprocess
import sys
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
    """`connectkb serve` on a free port: its base URL and its process."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "connectkb", "serve", "--port", str(port), "--log-level",
                             "warning", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/health", proc, 120)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
