"""Hostile queries against the embedded store: each refused, or stopped within the time limit with a
clean error status, nothing reaching out of the host, and other clients served meanwhile."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from connectkb.app import create_app
from connectkb.knowledge.load import LoadedKB

from .conftest import LiveServer, free_port

TIMEOUT_S = 2.0
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
POINT = "SELECT ?l WHERE { <https://w3id.org/connectkb/id/hsbc> <http://www.w3.org/2000/01/rdf-schema#label> ?l }"


@pytest.fixture(scope="module")
def guarded(kb: LoadedKB) -> Iterator[str]:
    with LiveServer(create_app(kb, sparql_timeout_s=TIMEOUT_S), free_port()) as live:
        yield live.base_url


class Listener:
    """A TCP listener on loopback that counts every connection made to it."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while self.running:
            try:
                conn, _ = self.socket.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=2)
        self.socket.close()


def test_service_and_load_aimed_at_a_local_listener_are_refused_and_nothing_reaches_it(guarded: str) -> None:
    listener = Listener()
    try:
        for query in (f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{listener.port}/sparql> {{ ?s ?p ?o }} }}",
                      f"SELECT * WHERE {{ SERVICE SILENT <http://127.0.0.1:{listener.port}/> {{ ?s ?p ?o }} }}",
                      f"LOAD <http://127.0.0.1:{listener.port}/data.ttl>",
                      f"SELECT * FROM <http://127.0.0.1:{listener.port}/g.ttl> WHERE {{ ?s ?p ?o }}"):
            response = httpx.get(f"{guarded}/sparql", params={"query": query}, timeout=10)
            assert response.status_code in (400, 403), (query, response.status_code)
        time.sleep(0.5)
        assert listener.connections == 0
    finally:
        listener.close()


def test_local_files_cannot_be_read(guarded: str) -> None:
    for params in ({"query": "SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }"},
                   {"query": "SELECT * FROM NAMED <file:///etc/passwd> WHERE { GRAPH ?g { ?s ?p ?o } }"},
                   {"query": POINT, "default-graph-uri": "file:///etc/passwd"}):
        response = httpx.get(f"{guarded}/sparql", params=params, timeout=10)
        assert response.status_code == 400 and "root:" not in response.text


def test_updates_are_refused(guarded: str) -> None:
    for query in ("INSERT DATA { <urn:a> <urn:b> <urn:c> }", "DELETE WHERE { ?s ?p ?o }", "CLEAR ALL",
                  "DROP DEFAULT", "LOAD <file:///etc/passwd>"):
        assert httpx.post(f"{guarded}/sparql", data={"update": query}, timeout=10).status_code == 403
        assert httpx.get(f"{guarded}/sparql", params={"query": query}, timeout=10).status_code == 403
    assert httpx.get(f"{guarded}/sparql", params={"query": "ASK { ?s ?p ?o }"}, timeout=10).json()["boolean"]


def test_a_runaway_cross_product_is_stopped_while_other_clients_are_served(guarded: str) -> None:
    outcome: dict[str, object] = {}

    def runaway() -> None:
        started = time.monotonic()
        response = httpx.get(f"{guarded}/sparql", params={"query": RUNAWAY}, timeout=60)
        outcome["status"], outcome["seconds"], outcome["text"] = response.status_code, time.monotonic() - started, \
            response.text

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.5)  # the runaway is now running in a worker
    meanwhile = httpx.get(f"{guarded}/sparql", params={"query": POINT}, timeout=30)
    ping = httpx.get(f"{guarded}/ping", timeout=5)
    # both answered while the runaway was still running, not after it was stopped
    assert meanwhile.status_code == 200 and ping.status_code == 200 and thread.is_alive()
    thread.join(timeout=60)
    assert outcome["status"] == 503, outcome
    assert outcome["seconds"] < TIMEOUT_S + 3, outcome
    assert "stopped" in str(outcome["text"])
    # the killed worker was replaced: the endpoint still answers
    assert httpx.get(f"{guarded}/sparql", params={"query": POINT}, timeout=30).status_code == 200


def test_a_huge_order_by_ends_in_a_clean_error_not_a_truncated_200(guarded: str) -> None:
    started = time.monotonic()
    response = httpx.get(f"{guarded}/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o . ?x ?y ?z } ORDER BY ?o ?z"},
                         timeout=60)
    assert response.status_code in (400, 503), response.status_code
    assert time.monotonic() - started < TIMEOUT_S + 3
    # a stopped query's worker is replaced in the background: wait until the endpoint answers again
    deadline = time.monotonic() + 60
    while httpx.get(f"{guarded}/sparql", params={"query": POINT}, timeout=60).status_code != 200:
        assert time.monotonic() < deadline, "the pool did not recover"
        time.sleep(0.5)
    capped = httpx.get(f"{guarded}/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"}, timeout=60)
    assert capped.status_code == 400 and "more than 10000 rows" in capped.text
