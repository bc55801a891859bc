"""Hostile SPARQL: the query checked is the query that runs, so no
spelling of SERVICE reaches out of the host; parsing is bounded and never blocks other clients; the
guard's cache is bounded in bytes; a full pool answers 503 at once and /health stays fast; a worker
over its memory cap dies alone; shutdown kills busy workers and leaves nothing behind."""

from __future__ import annotations

import multiprocessing as mp
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectkb.app import create_app
from connectkb.common.lru import ByteBoundedLRU
from connectkb.knowledge.load import LoadedKB
from connectkb.sparql import guard
from connectkb.sparql.canonical import canonicalize, refuse_service_keyword
from connectkb.sparql.errors import QueryFailed, Refused
from connectkb.sparql.pool import QueryPool, QueryRequest, isolate_network

from .conftest import LiveServer, free_port
from .test_sparql_guards import POINT, RUNAWAY, Listener

TIMEOUT_S = 2.0
WAIT_S = 1.0
HSBC = "<https://w3id.org/connectkb/id/hsbc>"
LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
COMMENT_ENDS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"]
ODD_SPACE = [" ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\u00a0", "\u3000", "\u2028", "  \t "]
KEYWORDS = ["SERVICE", "service", "sErViCe", "Service", "\\u0053ERVICE", "\\U00000053ERVICE", "SERVIC\\u0045",
            "\\u0073\\u0065\\u0072\\u0076\\u0069\\u0063\\u0065", "\\u005Cu0053ERVICE", "\\\\u0053ERVICE",
            "\\u005C\\u0075\\u0030\\u0030\\u0035\\u0033ERVICE"]
CONTEXTS = [
    "SELECT * WHERE {{ ?s ?p ?o . {S} }} LIMIT 1",
    "SELECT * WHERE {{ ?s ?p ?o.{S} }} LIMIT 1",
    "SELECT * WHERE {{ ?s ?p 1.{S} }} LIMIT 1",
    "SELECT * WHERE {{ ?s ?p ?o OPTIONAL {{ {S} }} }} LIMIT 1",
    "SELECT * WHERE {{ {{ ?s ?p ?o }} UNION {{ {S} }} }} LIMIT 1",
    "SELECT * WHERE {{ ?s ?p ?o MINUS {{ {S} }} }} LIMIT 1",
    "SELECT * WHERE {{ {{ SELECT * WHERE {{ {S} }} LIMIT 1 }} }}",
    "SELECT * WHERE {{ ?s ?p ?o FILTER EXISTS {{ {S} }} }} LIMIT 1",
    "SELECT * WHERE {{ ?s ?p ?o FILTER NOT EXISTS {{ {S} }} }} LIMIT 1",
    "SELECT * WHERE {{ VALUES ?x {{ 1 2 }} {S} }} LIMIT 1",
    "SELECT * WHERE {{ GRAPH ?g {{ {S} }} }} LIMIT 1",
    "ASK {{ {S} }}",
    "CONSTRUCT {{ ?a ?b ?c }} WHERE {{ {S} }}",
    "DESCRIBE ?a WHERE {{ {S} }}",
    "SELECT * WHERE {{ ?s ?p '#not a comment' . {S} }} LIMIT 1",
    "SELECT * WHERE {{ ?s <http://x/#not-a-comment> ?o . {S} }} LIMIT 1",
    # no boundary needed after the token before SERVICE: Oxigraph reads `1SERVICE` as `1 SERVICE`
    "SELECT * WHERE {{ ?s ?p 1{S} }} LIMIT 1",
    "SELECT * WHERE {{ ?s ?p true{S} }} LIMIT 1",
    "SELECT * WHERE {{ ?s ?p ?o FILTER(1){S} }} LIMIT 1",
    "SELECT * WHERE {{ OPTIONAL{{}}{S} }} LIMIT 1",
    "SELECT * WHERE {{ ?s ?p 'x'{S} }} LIMIT 1",
]
# SERVICE glued to an IRI written as a prefixed name: Oxigraph reads `SERVICE:a {…}` as SERVICE `:a`
GLUED = ["PREFIX : <http://127.0.0.1:{port}/> SELECT * WHERE {{ {kw}:a {{ ?s ?p ?o }} }}",
         "PREFIX ex: <http://127.0.0.1:{port}/> SELECT * WHERE {{ {kw}ex:a {{ ?s ?p ?o }} }}",
         "PREFIX ex: <http://127.0.0.1:{port}/> SELECT * WHERE {{ ?s ?p 1{kw}ex:a {{ ?s ?p ?o }} }}"]


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    listening = Listener()
    yield listening
    listening.close()


@pytest.fixture(scope="module")
def hostile(kb: LoadedKB) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONNECTKB_SPARQL_WAIT_S", str(WAIT_S))
        patch.setenv("CONNECTKB_SPARQL_MAX_WAITING", "4")  # a burst of 30 runaways overflows it
        app = create_app(kb, sparql_timeout_s=TIMEOUT_S)
    with LiveServer(app, free_port()) as live:
        yield live.base_url


def service_query(context: str, keyword: str, before: str, gap: str, silent: bool, endpoint: str) -> str:
    pattern = f"{before}{keyword}{gap}{'SILENT' + gap if silent else ''}{endpoint}{gap}{{ ?a ?b ?c }}"
    return context.format(S=pattern)


def variants(port: int) -> st.SearchStrategy[str]:
    """Queries whose SERVICE is live code for at least one engine: every comment before it is ended
    by a character some engine or the grammar takes as a line end, or it has no comment at all."""
    endpoint = st.sampled_from([f"<http://127.0.0.1:{port}/>", f"<http://127.0.0.1:{port}/sparql#frag>", "?svc"])
    before = st.one_of(st.just(""), st.builds(lambda end, gap: f"#c{end}{gap}", st.sampled_from(COMMENT_ENDS),
                                              st.sampled_from(ODD_SPACE)))
    glued = st.builds(lambda template, keyword: template.format(port=port, kw=keyword), st.sampled_from(GLUED),
                      st.sampled_from(KEYWORDS))
    return st.one_of(st.builds(service_query, st.sampled_from(CONTEXTS), st.sampled_from(KEYWORDS), before,
                               st.sampled_from(ODD_SPACE), st.booleans(), endpoint), glued)


# One client for every request: a new httpx client per request costs tens of ms of CPU (its TLS
# context) under the GIL this process shares with the server, which a burst of 30 turns into seconds.
CLIENT = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))


def ask(base: str, query: str, method: str = "GET", **params: str) -> httpx.Response:
    if method == "GET":
        return CLIENT.get(f"{base}/sparql", params={"query": query, **params})
    if method == "FORM":
        return CLIENT.post(f"{base}/sparql", data={"query": query, **params})
    return CLIENT.post(f"{base}/sparql", content=query.encode("utf-8"), params=params,
                       headers={"Content-Type": "application/sparql-query"})


# --- item 1: the differential -------------------------------------------------------------------------

def test_the_reported_carriage_return_comment_is_refused_and_nothing_reaches_the_listener(
        hostile: str, listener: Listener) -> None:
    query = f"SELECT * WHERE {{ #\r SERVICE <http://127.0.0.1:{listener.port}/> {{ ?a ?b ?c }} #\n ?s ?p ?o }} LIMIT 1"
    for method in ("GET", "FORM", "DIRECT"):
        response = ask(hostile, query, method)
        assert response.status_code == 403 and "SERVICE" in response.text, (method, response.text)
    assert listener.connections == 0


@settings(max_examples=400, deadline=None, database=None)
@given(st.data())
def test_each_guard_alone_refuses_every_variant(data: st.DataObject) -> None:
    """The lexical scan and rdflib's parse tree are independent: each refuses every variant by itself."""
    query = data.draw(variants(9))
    try:
        refuse_service_keyword(canonicalize(query))
        lexical: int | None = None
    except Refused as refused:
        lexical = refused.status
    assert lexical in (400, 403), repr(query)
    saved = guard.refuse_service_keyword
    guard.refuse_service_keyword = lambda canonical: None  # the parse-tree check alone
    try:
        with pytest.raises(Refused) as refused:
            guard.check(query, [], [], set())
        assert refused.value.status in (400, 403), repr(query)
    finally:
        guard.refuse_service_keyword = saved


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_service_variants_are_refused_over_http_and_nothing_reaches_the_listener(
        hostile: str, listener: Listener, data: st.DataObject) -> None:
    query = data.draw(variants(listener.port))
    method = data.draw(st.sampled_from(["GET", "FORM", "DIRECT"]))
    response = ask(hostile, query, method)
    assert response.status_code in (400, 403), (repr(query), response.status_code, response.text)
    assert listener.connections == 0, repr(query)


def test_service_only_as_data_or_commented_out_runs_normally_and_calls_nobody(hostile: str, listener: Listener) -> None:
    port = listener.port
    for query in (f"SELECT ?service WHERE {{ BIND(\"SERVICE <http://127.0.0.1:{port}/> {{}}\" AS ?service) }}",
                  f"PREFIX ex: <http://127.0.0.1:{port}/> SELECT * WHERE {{ ?s ex:service ?o }} LIMIT 1",
                  f"PREFIX ex: <http://127.0.0.1:{port}/> SELECT * WHERE {{ ?s ex:services ?o }} LIMIT 1",
                  f"SELECT * WHERE {{ ?s <http://127.0.0.1:{port}/SERVICE> ?o }} LIMIT 1",
                  f"SELECT * WHERE {{ # SERVICE <http://127.0.0.1:{port}/> {{ ?a ?b ?c }}\n ?s ?p ?o }} LIMIT 1",
                  f"SELECT * WHERE {{ ?s ?p ?o }} LIMIT 1 # SERVICE <http://127.0.0.1:{port}/> {{ }}"):
        response = ask(hostile, query)
        assert response.status_code == 200, (query, response.text)
        assert "results" in response.json()
    assert listener.connections == 0


def _service_from_an_isolated_process(port: int, connection: Any) -> None:
    reason = isolate_network()
    try:
        list(ox.Store().query(f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}"))
        outcome = "answered"
    except Exception as exc:
        outcome = type(exc).__name__
    connection.send((reason, outcome))


def test_a_worker_process_has_no_network_so_even_an_unguarded_service_connects_nowhere(listener: Listener) -> None:
    """Refusal in depth: what a worker does to leave the network stops Oxigraph's own SERVICE client."""
    context = mp.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_service_from_an_isolated_process, args=(listener.port, child))
    process.start()
    assert parent.poll(60)
    reason, outcome = parent.recv()
    process.join(10)
    assert reason is None, f"the network namespace could not be entered: {reason}"
    assert outcome != "answered"
    time.sleep(0.3)
    assert listener.connections == 0


def test_the_workers_of_a_pool_report_that_they_left_the_network(kb: LoadedKB) -> None:
    pool = QueryPool(kb.backend.store, workers=1, timeout_s=10)
    try:
        assert pool.network_isolated
    finally:
        pool.close()


def _json(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return sorted(response.json()["results"]["bindings"], key=repr)


def test_legitimate_comments_hashes_escapes_and_odd_whitespace_answer_as_without_them(hostile: str) -> None:
    plain = _json(ask(hostile, POINT))
    assert plain, "the point query has answers to compare with"
    for query in (
            f"SELECT ?l # the label\r\nWHERE {{ # of HSBC\r\n {HSBC} {LABEL} ?l # any language\r\n}}\r\n# end",
            f"SELECT ?l WHERE {{ {HSBC} {LABEL} ?l #\r}}",
            f"SELECT ?l WHERE {{ {HSBC} {LABEL} ?l FILTER(?l != \"#not a comment\" && ?l != '''#nor\nthis''') }}",
            f"PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema> SELECT ?l WHERE {{ {HSBC} rdfs:\\#label ?l }}",
            f"\\u0053ELECT ?l WHERE {{ {HSBC} {LABEL} ?l }}",
            f"SELECT\u00a0?l\tWHERE\u3000{{\x0c{HSBC}\u2028{LABEL} ?l\x0b}}"):
        for method in ("GET", "DIRECT"):
            assert _json(ask(hostile, query, method)) == plain, repr(query)


def test_double_escapes_are_refused_not_decoded_twice(hostile: str) -> None:
    for query in ("SELECT * WHERE { \\u005Cu0053ERVICE <http://127.0.0.1:9/> { ?a ?b ?c } }",
                  "SELECT ?x WHERE { BIND('\\\\u0041' AS ?x) }"):
        response = ask(hostile, query)
        assert response.status_code == 400 and "escape" in response.text, response.text


# --- item 4: parse limits, no global lock -------------------------------------------------------------

def test_an_oversized_query_answers_413_quickly_naming_the_limit(hostile: str) -> None:
    query = "SELECT * WHERE { ?s ?p ?o FILTER(?o IN (" + ",".join(["1"] * 40_000) + ")) }"
    assert len(query) > 80_000
    for method in ("FORM", "DIRECT"):
        started = time.monotonic()
        response = ask(hostile, query, method)
        assert response.status_code == 413 and "32768 bytes" in response.text, response.text
        assert time.monotonic() - started < 2.0  # refused on its size, long before any parse could end


def test_a_slow_parse_in_the_limit_is_stopped_and_does_not_block_cheap_queries(hostile: str) -> None:
    slow = "SELECT * WHERE { ?s ?p ?o FILTER(?o IN (" + ",".join(["1"] * 3000) + ")) }"  # ~6 s for rdflib
    assert len(slow.encode()) < 32 * 1024
    outcome: dict[str, Any] = {}

    def send_slow() -> None:
        started = time.monotonic()
        response = ask(hostile, slow, "DIRECT")
        outcome.update(status=response.status_code, text=response.text, seconds=time.monotonic() - started)

    thread = threading.Thread(target=send_slow)
    thread.start()
    time.sleep(0.3)  # the slow parse now holds one worker
    for _ in range(5):
        started = time.monotonic()
        assert ask(hostile, POINT).status_code == 200
        assert time.monotonic() - started < 1.5
    assert thread.is_alive(), "the cheap queries were answered while the slow parse was still running"
    thread.join(30)
    assert outcome["status"] == 503 and "stopped" in outcome["text"], outcome
    assert outcome["seconds"] < TIMEOUT_S + 3


# --- item 6: the guard's cache is bounded in bytes ----------------------------------------------------

def test_the_byte_lru_holds_at_most_its_bound_and_keeps_the_recent_entries() -> None:
    cache: ByteBoundedLRU[str, str] = ByteBoundedLRU(10_000, lambda key, value: len(key) + len(value))
    for i in range(100):
        cache.put(f"{i:04d}" + "x" * 996, "")
        assert cache.bytes <= 10_000
    assert len(cache) == 10 and cache.get("0099" + "x" * 996) == "" and cache.get("0000" + "x" * 996) is None
    cache.put("huge", "y" * 20_000)  # larger than the bound: not kept, nothing evicted for it
    assert cache.get("huge") is None and len(cache) == 10


def test_the_guard_cache_stays_within_its_byte_bound_under_many_large_distinct_queries() -> None:
    bound = guard._CACHE.max_bytes
    padding = "x" * 30_000
    for i in range(2 * bound // 30_000 + 10):
        guard.check_cached(f"SELECT * WHERE {{ ?s ?p '{padding}{i}' }}", (), (), frozenset())
        assert guard._CACHE.bytes <= bound
    assert 0 < len(guard._CACHE) < 2 * bound // 30_000


# --- item 8: starvation -------------------------------------------------------------------------------

def test_a_burst_of_runaways_gets_fast_503s_while_health_stays_fast_and_nothing_hangs(hostile: str) -> None:
    burst = 30
    with ThreadPoolExecutor(max_workers=burst + 4) as executor:
        started = time.monotonic()
        runaways = [executor.submit(lambda i=i: (ask(hostile, f"{RUNAWAY} # {i}"), time.monotonic() - started))
                    for i in range(burst)]
        time.sleep(0.3)
        for _ in range(5):
            before = time.monotonic()
            assert CLIENT.get(f"{hostile}/health", timeout=5).status_code == 200
            assert time.monotonic() - before < 1.0
            before = time.monotonic()
            normal = ask(hostile, POINT)
            assert normal.status_code in (200, 503), normal.text
            assert time.monotonic() - before < TIMEOUT_S + WAIT_S + 1
        results = [future.result(timeout=30) for future in runaways]
    statuses = [response.status_code for response, _ in results]
    assert set(statuses) == {503}, statuses
    assert max(seconds for _, seconds in results) < TIMEOUT_S + WAIT_S + 3
    fast = [seconds for response, seconds in results if "queue is full" in response.text
            or "too many SPARQL requests" in response.text]
    assert len(fast) >= burst // 2, "most of the burst is turned away at once"
    assert max(fast) < 1.5
    deadline = time.monotonic() + 30  # the killed workers are replaced
    while ask(hostile, POINT).status_code != 200:
        assert time.monotonic() < deadline, "the pool did not recover"
        time.sleep(0.3)


# --- item 8: memory cap -------------------------------------------------------------------------------

def _doubling(steps: int) -> str:
    binds = " ".join(f"BIND(CONCAT(?x{i}, ?x{i}) AS ?x{i + 1})" for i in range(steps))
    return f"SELECT (STRLEN(?x{steps}) AS ?n) WHERE {{ BIND(\"0123456789abcdef\" AS ?x0) {binds} }}"


def _request(text: str) -> QueryRequest:
    return QueryRequest(text=text, accept=None, default_graphs=[], named_graphs=[], max_rows=10_000,
                        max_bytes=20_000_000)


def test_a_concat_doubling_kills_only_its_worker_under_the_memory_cap(kb: LoadedKB) -> None:
    pool = QueryPool(kb.backend.store, workers=1, timeout_s=30, memory_mb=512, wait_s=30)
    try:
        # a modest doubling (16 MB) fits under the cap
        assert b'"16777216"' in pool.run(_request(_doubling(20))).body
        started = time.monotonic()
        with pytest.raises(QueryFailed) as failed:
            pool.run(_request(_doubling(34)))  # 256 GB
        assert failed.value.status == 503 and "memory" in failed.value.message, failed.value.message
        assert time.monotonic() - started < 20, "stopped by the cap, not the time limit"
        assert pool.run(_request(POINT)).media_type == "application/sparql-results+json"  # replaced, serving
    finally:
        pool.close()


# --- item 10: small ones ------------------------------------------------------------------------------

def test_a_from_named_refusal_names_the_iri_it_refuses(hostile: str) -> None:
    for query, iri in (("SELECT * FROM NAMED <file:///etc/passwd> WHERE { GRAPH ?g { ?s ?p ?o } }", "file:///etc/passwd"),
                       ("PREFIX ex: <http://evil.example/> SELECT * FROM NAMED ex:g WHERE { GRAPH ?g { ?s ?p ?o } }",
                        "http://evil.example/g"),
                       ("PREFIX ex: <http://evil.example/> SELECT * FROM ex:d WHERE { ?s ?p ?o }",
                        "http://evil.example/d")):
        response = ask(hostile, query)
        assert response.status_code == 400 and f"<{iri}>" in response.text and "<None>" not in response.text, \
            response.text


def test_an_update_in_the_url_of_a_post_is_refused(hostile: str) -> None:
    update = {"update": "INSERT DATA { <urn:a> <urn:b> <urn:c> }"}
    form = CLIENT.post(f"{hostile}/sparql", params=update, data={"query": "ASK { ?s ?p ?o }"})
    direct = CLIENT.post(f"{hostile}/sparql", params=update, content=b"ASK { ?s ?p ?o }",
                        headers={"Content-Type": "application/sparql-query"})
    for response in (form, direct):
        assert response.status_code == 403 and "read-only" in response.text, response.text


def test_error_bodies_say_where_and_never_show_library_internals(hostile: str) -> None:
    for query in ("SELECT * WHERE { ?s ?p ", "SELECT * WHERE { ?s ?p ?o } ORDER BY", "SELEKT * { }",
                  "SELECT * WHERE { ?s ?p ?o FILTER(?o = ex:x) }", "SELECT (1 AS ?x) (2 AS ?x) {}"):
        response = ask(hostile, query)
        assert response.status_code == 400, (query, response.text)
        for internal in ("Traceback", "Exception", "pyparsing", "rdflib", "File \"", "local variable", "CompValue"):
            assert internal not in response.text, (query, response.text)
    located = ask(hostile, "SELECT * WHERE {\n ?s ?p ?o .\n ?s ?p }")
    assert "line 3" in located.text, located.text


def _connectkb_temp_dirs() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("connectkb-sparql-")}


def test_close_kills_busy_workers_promptly_and_leaves_no_temporary_store(kb: LoadedKB) -> None:
    before = _connectkb_temp_dirs()
    pool = QueryPool(kb.backend.store, workers=2, timeout_s=60)
    pids = pool.pids()
    outcome: dict[str, Any] = {}

    def runaway() -> None:
        try:
            pool.run(_request(RUNAWAY))
        except QueryFailed as exc:
            outcome["failed"] = (exc.status, exc.message, time.monotonic())

    threads = [threading.Thread(target=runaway) for _ in range(3)]  # two run, one waits
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    pool.close()
    assert time.monotonic() - started < 2
    for thread in threads:
        thread.join(3)
        assert not thread.is_alive()
    assert outcome["failed"][0] == 503 and "shutting down" in outcome["failed"][1]
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert _connectkb_temp_dirs() <= before
    with pytest.raises(QueryFailed):
        pool.run(_request(POINT))


def test_a_server_with_a_runaway_in_flight_shuts_down_promptly_and_kills_its_workers(kb: LoadedKB) -> None:
    before = {child.pid for child in mp.active_children()}
    live = LiveServer(create_app(kb, sparql_timeout_s=TIMEOUT_S), free_port()).__enter__()
    ours = {child.pid for child in mp.active_children()} - before
    assert ours, "the app started its SPARQL workers"
    thread = threading.Thread(target=lambda: ask(live.base_url, RUNAWAY))
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    live.__exit__(None, None, None)
    assert time.monotonic() - started < TIMEOUT_S + 3
    thread.join(10)
    alive = {child.pid for child in mp.active_children()} & ours
    assert not alive, alive
