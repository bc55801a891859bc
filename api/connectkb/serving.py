"""Serving the app with one or more worker processes on one listening socket.

Stock `uvicorn --workers N` leaves TCP_NODELAY off on the listening socket, and small answers then
wait for delayed ACKs (it capped every endpoint near 700 requests/s here). connectkb opens the socket
itself with TCP_NODELAY, which accepted connections inherit, validates the KB once, and forks the
workers, each of which builds its own app (its own SPARQL workers) and serves that socket.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import traceback
from typing import Any

import uvicorn


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(make_app: Any, host: str, port: int, workers: int, log_level: str) -> int:
    """Serve `make_app()` on host:port; with more than one worker, each is a forked process."""
    sock = listening_socket(host, port)
    if workers <= 1:
        uvicorn.Server(uvicorn.Config(make_app(), log_level=log_level)).run(sockets=[sock])
        return 0
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker: its own app, its own SPARQL pool, the shared socket
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                uvicorn.Server(uvicorn.Config(make_app(), log_level=log_level)).run(sockets=[sock])
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)  # never return into the parent's code
        children.append(pid)
    sock.close()

    def stop(signum: int, _frame: Any) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = 0
    for child in children:
        while True:
            try:
                _, status = os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
        failed |= os.waitstatus_to_exitcode(status) not in (0, -signal.SIGTERM)
    print(f"connectkb: {workers} workers stopped", file=sys.stderr)
    return 1 if failed else 0
