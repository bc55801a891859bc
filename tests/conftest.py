"""Shared fixtures: the real KB loaded once, and the API served over real HTTP by uvicorn."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from connectkb.app import create_app
from connectkb.common import paths
from connectkb.knowledge.load import LoadedKB, load
from connectkb.time.known_at import Engines, engines_for

REPO = Path(__file__).resolve().parent.parent
# commands the tests start (`python -m connectkb …`) run the working tree too, not an installed copy
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO / "api"), *filter(None, [os.environ.get("PYTHONPATH")])])


def tool(name: str) -> str | None:
    """A console script installed beside this Python (pyenv shims may not exist for it yet), or on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def debian_tool(name: str, *packages: str) -> str:
    """A program from Debian's packages, installed here with apt-get when missing (CI runs as root on a
    machine that reaches Debian's mirror), as a new user would install it."""
    found = tool(name)
    if found:
        return found
    assert os.geteuid() == 0, f"this test needs {name}: apt-get install {' '.join(packages)}"
    subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=900)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, timeout=1800,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    found = tool(name)
    assert found, f"{' '.join(packages)} did not install {name}"
    return found


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


@pytest.fixture(scope="session")
def engines(kb: LoadedKB) -> Engines:
    """The current release's engines, as the app builds them (compiled rules, timelines, counterfactuals)."""
    return engines_for(kb.backend, kb.release, None, True)


@pytest.fixture(scope="session")
def client(kb: LoadedKB) -> Iterator[TestClient]:
    """The app on the embedded store, in process."""
    with TestClient(create_app(kb)) as c:
        yield c


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


class OxigraphServer:
    """A real Oxigraph SPARQL server (the `oxigraph` package's binary), loaded with `connectkb load`."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.query_url = f"http://127.0.0.1:{self.port}/query"
        binary = tool("oxigraph")
        assert binary, "the oxigraph server is a test dependency: pip install '.[test]'"
        self.process = subprocess.Popen([binary, "serve", "--location", str(directory), "--bind",
                                         f"127.0.0.1:{self.port}"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the oxigraph server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OxigraphServer]:
    server = OxigraphServer(tmp_path_factory.mktemp("oxigraph"))
    subprocess.run([sys.executable, "-m", "connectkb", "load", "--store", server.query_url], check=True,
                   capture_output=True, timeout=300)
    yield server
    server.stop()


# Every API test runs against both backends: the embedded store and a real external SPARQL server.
@pytest.fixture(scope="session", params=["embedded", "oxigraph"])
def server(request: pytest.FixtureRequest, kb: LoadedKB, seeds: Path) -> Iterator[LiveServer]:
    if request.param == "embedded":
        app_kb = kb
    else:
        app_kb = load(seeds=seeds, store_url=request.getfixturevalue("oxigraph_server").query_url)
    with LiveServer(create_app(app_kb), free_port()) as live:
        live.backend = request.param
        yield live


@pytest.fixture(scope="session")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client
