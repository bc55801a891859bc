"""Serving the app with one or more worker processes on one port.

Stock `uvicorn --workers N` leaves TCP_NODELAY off on the listening socket, and small answers then
wait for delayed ACKs (it capped every endpoint near 700 requests/s here). connectkb opens its sockets
itself with TCP_NODELAY, which accepted connections inherit.

With several workers, each has a socket of its own on the same port (SO_REUSEPORT), so that the
kernel spreads connections over the workers. With one shared socket, the first worker to wake accepts
every pending connection (asyncio accepts up to its backlog at a time), and a client that opens its
keep-alive connections at once was seen served by one worker while the other idled. The sockets are
bound before the fork, so a port in use is refused at once; each worker builds its app (its own SPARQL
workers) and says when it is ready.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import sys
import traceback
from typing import Any

import uvicorn


def listening_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _run(make_app: Any, sock: socket.socket, log_level: str, ready: str) -> None:
    app = make_app()
    # What start-up built lives as long as the process: out of the cyclic collector's sight, a full
    # collection no longer walks it (about 85 ms a time, the p99 of every endpoint before).
    gc.freeze()
    print(ready, file=sys.stderr, flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level=log_level)).run(sockets=[sock])


def serve(make_app: Any, host: str, port: int, workers: int, log_level: str) -> int:
    """Serve `make_app()` on host:port; with more than one worker, each is a forked process."""
    if workers <= 1:
        _run(make_app, listening_socket(host, port), log_level, "connectkb: ready")
        return 0
    sockets = [listening_socket(host, port, reuse_port=True) for _ in range(workers)]
    children: list[int] = []
    for number, sock in enumerate(sockets, start=1):
        pid = os.fork()
        if pid == 0:  # the worker: its own app, its own SPARQL pool, its own socket
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            for other in sockets:
                if other is not sock:
                    other.close()  # a socket no worker accepts on would hold the connections hashed to it
            code = 0
            try:
                _run(make_app, sock, log_level, f"connectkb: worker {number} of {workers} ready")
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)  # never return into the parent's code
        children.append(pid)
    for sock in sockets:
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
