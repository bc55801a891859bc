"""Shared fixtures: the real KB loaded once, and the API served over real HTTP by uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from connectkb import paths
from connectkb.app import create_app
from connectkb.knowledge import LoadedKB, load

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def seeds() -> Path:
    found = paths.seeds_dir()
    assert found is not None, "the seed documents must sit beside the repository in ../shared/seeds " \
                              "(or set CONNECTKB_SEEDS_DIR)"
    return found


@pytest.fixture(scope="session")
def kb(seeds: Path) -> LoadedKB:
    return load(seeds=seeds)


class LiveServer:
    def __init__(self, app, port: int):
        self.base_url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(kb: LoadedKB) -> Iterator[LiveServer]:
    with LiveServer(create_app(kb), free_port()) as live:
        yield live


@pytest.fixture(scope="session")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client
