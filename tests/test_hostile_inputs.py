"""Hostile input: injection through ids, '%' in ids, evaluation limits, bounded caches, rule
checks compiled at start-up, no library internals in errors — and a property-based run over every
route of the OpenAPI that must never meet a server error."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectkb.app import create_app
from connectkb.common import paths
from connectkb.common.backend import values_clause
from connectkb.common.ids import BadIdentifier, to_iri
from connectkb.common.lru import ByteBoundedLRU
from connectkb.knowledge.entities import EntityService
from connectkb.knowledge.load import LoadedKB
from connectkb.rules.engine import RulesEngine
from connectkb.time.releases import ReleaseStore

from .conftest import LiveServer, free_port


class Listener:
    """A local TCP port that counts the connections made to it: an injected SERVICE call would be one."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.socket.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


def _injections(port: int) -> list[str]:
    service = f"SERVICE <http://127.0.0.1:{port}/> {{ ?a ?b ?c }}"
    return [
        # the payload: close the IRI and the BIND, then call out
        "x> AS ?z) } " + service + " #",
        "x> ?p ?o } UNION { " + service + " } #",
        # a cross product of the whole KB
        "x> ?p ?o . ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } #",
        'x> ?p ?o } } SELECT * WHERE { ?a ?b ?c } #',
    ]


@pytest.mark.parametrize("prefix", ["/id/", "/ontology/"])
def test_injection_through_a_dereferenced_iri_is_refused_quickly_and_calls_no_one(
        http: httpx.Client, listener: Listener, prefix: str) -> None:
    for payload in _injections(listener.port):
        for accept in ("text/turtle", "application/n-triples", "text/html"):
            started = time.monotonic()
            response = http.get(prefix + quote(payload, safe=""), headers={"Accept": accept})
            assert 400 <= response.status_code < 500, (payload, response.status_code, response.text[:300])
            assert time.monotonic() - started < 2.0, payload
    time.sleep(0.3)
    assert listener.connections == 0


def test_injection_through_entity_ids_and_filters_is_refused(http: httpx.Client, listener: Listener) -> None:
    for payload in _injections(listener.port):
        encoded = quote(payload, safe="")
        for url in (f"/v1/entities/{encoded}", f"/v1/changes?from=2024-01-01&to=2025-12-31&measure={encoded}",
                    f"/v1/changes.atom?measure={encoded}", f"/v1/entities?role={encoded}"):
            started = time.monotonic()
            response = http.get(url)
            assert response.status_code in (404, 422), (url, response.status_code, response.text[:300])
            assert time.monotonic() - started < 2.0, url
    time.sleep(0.3)
    assert listener.connections == 0


def test_bindings_reach_the_query_only_as_terms_pyoxigraph_serialized() -> None:
    import pyoxigraph as ox

    assert values_clause({"s": ox.NamedNode("https://w3id.org/connectkb/id/hsbc"), "l": ox.Literal('a"b')}) == \
        '\nVALUES (?s ?l) { (<https://w3id.org/connectkb/id/hsbc> "a\\"b") }'
    with pytest.raises(TypeError):
        values_clause({"s": "<x> } SERVICE <http://127.0.0.1:9/> {"})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        values_clause({"s) } #": ox.NamedNode("urn:x")})
    for bad in ("%", "hsbc%", "ck:%", ">", "x y", "a" * 400):
        with pytest.raises(BadIdentifier):
            to_iri(bad)


@pytest.mark.parametrize("url", ["/v1/entities/%25", "/v1/entities/hsbc%25", "/v1/entities/ck:%25",
                                 "/v1/changes?from=2024-01-01&to=2025-01-31&measure=%25",
                                 "/v1/changes.atom?measure=%25", "/v1/entities?role=%25&as_of=2025-01-01"])
def test_percent_in_an_id_is_a_client_error(http: httpx.Client, url: str) -> None:
    response = http.get(url)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["type"] == "value_error"


@pytest.mark.parametrize("path", ["/id/%25", "/id/%3E", "/ontology/%25", "/id/a%20b"])
@pytest.mark.parametrize("accept", ["text/turtle", "text/html"])
def test_percent_in_a_dereferenced_iri_is_not_found(http: httpx.Client, path: str, accept: str) -> None:
    assert http.get(path, headers={"Accept": accept}).status_code == 404


# ---------------------------------------------------------------- evaluation limits

EVALUATE = "/v1/rules/witness-account-opening/evaluate"


def test_an_oversize_body_is_413_by_content_length_and_while_it_streams(http: httpx.Client) -> None:
    big = b'{"facts": {"age": 30}, "as_of": "2025-03-01", "pad": "' + b"x" * 2_000_000 + b'"}'
    response = http.post(EVALUATE, content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["errors"][0]["loc"] == ["body"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must stop at the cap
        yield b'{"facts": {"age": 30}, "pad": "'
        for _ in range(200):
            yield b"x" * 65536
        yield b'"}'

    streamed = http.post(EVALUATE, content=chunks(), headers={"Content-Type": "text/turtle"})
    assert streamed.status_code == 413


def test_long_lists_and_strings_in_facts_are_422_naming_the_field(http: httpx.Client) -> None:
    long_list = http.post(EVALUATE, json={"facts": {"documents": ["mainland-travel-permit"] * 5000}})
    assert long_list.status_code == 422
    assert long_list.json()["errors"][0]["loc"] == ["body", "facts", "documents"]
    long_id = http.post(EVALUATE, json={"facts": {"witness_bank": "b" * 1_000_00}})
    assert long_id.status_code == 422 and long_id.json()["errors"][0]["loc"] == ["body", "facts", "witness_bank"]
    huge_number = http.post(EVALUATE, json={"facts": {"age": 10**400}})
    assert huge_number.status_code == 422 and huge_number.json()["errors"][0]["loc"] == ["body", "facts", "age"]
    repo = "/v1/rules/offshore-rmb-repo-counterparties/evaluate"
    many = http.post(repo, json={"facts": {"counterparties": [f"bank-{i}" for i in range(1000)]}})
    assert many.status_code == 422 and many.json()["errors"][0]["loc"] == ["body", "facts", "counterparties"]


def test_as_of_must_be_a_date_string(http: httpx.Client) -> None:
    for as_of in (0, 1700000000, "0", "2025-03-01T00:00:00", True):
        response = http.post(EVALUATE, json={"facts": {"age": 30}, "as_of": as_of})
        assert response.status_code == 422, as_of
        assert response.json()["errors"][0]["loc"] == ["body", "as_of"]
    assert http.post(EVALUATE + "?as_of=0", json={"facts": {"age": 30}}).status_code == 422
    assert http.get("/v1/entities?as_of=0").status_code == 422
    assert http.get("/v1/entities/hsbc?as_of=0").status_code == 422
    assert http.post(EVALUATE, json={"facts": {"age": 30}, "as_of": "2025-03-01"}).status_code == 200


@pytest.mark.parametrize(("body", "content_type"), [
    (b"1", "application/ld+json"), (b"null", "application/ld+json"), (b'{"@context": [1]}', "application/ld+json"),
    (b'{"@context": {"@base": 5}}', "application/ld+json"), (b"[" * 50000, "application/ld+json"),
    (b"@prefix", "text/turtle"), (b"\xff\xfe", "text/turtle"), (b"<a> <b> .", "text/turtle"),
])
def test_malformed_rdf_facts_are_422_in_the_clients_terms(http: httpx.Client, body: bytes, content_type: str) -> None:
    response = http.post(EVALUATE, content=body, headers={"Content-Type": content_type})
    assert response.status_code == 422, response.text
    message = response.json()["errors"][0]["msg"]
    for internal in ("local variable", "object has no attribute", "Traceback", "index out of range"):
        assert internal not in message


def test_an_evaluation_past_its_time_limit_is_503(kb: LoadedKB, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTKB_EVAL_TIMEOUT_S", "0.001")  # a time limit no evaluation meets
    with LiveServer(create_app(kb), free_port()) as live, httpx.Client(base_url=live.base_url, timeout=30) as client:
        # the compiled engine answers in well under a millisecond; the limit guards pySHACL's evaluations
        response = client.post(EVALUATE, params={"engine": "reference"},
                               json={"facts": {"age": 30}, "as_of": "2025-03-01"})
        assert response.status_code == 503 and response.headers["retry-after"]
        assert "did not finish" in response.json()["errors"][0]["msg"]
        assert client.get("/health").status_code == 200  # the server keeps answering


# ---------------------------------------------------------------- bounded caches

def test_the_byte_bounded_lru_keeps_its_bound_and_the_most_recent() -> None:
    cache: ByteBoundedLRU[str, bytes] = ByteBoundedLRU(1000, lambda k, v: len(k) + len(v))
    for i in range(100):
        cache.put(f"k{i}", b"x" * 95)
        assert cache.bytes <= 1000
    assert cache.get("k99") is not None and cache.get("k0") is None
    cache.put("huge", b"x" * 5000)  # larger than the bound: not kept, nothing else lost for it
    assert cache.get("huge") is None and cache.bytes <= 1000


def test_posting_many_distinct_large_ids_does_not_grow_the_label_cache(kb: LoadedKB,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    monkeypatch.setenv("CONNECTKB_LABEL_CACHE_BYTES", "16384")
    entities = EntityService(kb.backend)
    engine = RulesEngine(kb.backend, entities.citations, entities.label_of)
    for i in range(60):  # unbounded, 60 ids of 290 characters would hold about 45 KB
        engine.evaluate("witness-account-opening", {"witness_bank": f"{i:04d}" + "b" * 286}, dt.date(2025, 3, 1))
        assert engine._labels_added.bytes <= 16384
    assert 0 < len(engine._labels_added) < 60
    # the KB's own banks keep their labels in answers
    answer, _ = engine.evaluate("witness-account-opening", {"witness_bank": "boc"}, dt.date(2025, 3, 1))
    assert answer["verdict"] in ("undetermined", "ineligible")


def test_a_release_diff_is_computed_once_even_when_asked_concurrently() -> None:
    store = ReleaseStore()
    first, second = store.ids()[:2]
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(store.diff(first, second, "en"))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.diff_computations == 1 and all(r is results[0] for r in results)
    assert store.diff(first, second, "en") is results[0]  # served from the cache, not recomputed
    assert store.diff_computations == 1
    store.diff(first, second, "zh")  # another language is another answer
    assert store.diff_computations == 2


def test_the_diff_route_answers_what_the_release_store_computes(http: httpx.Client) -> None:
    ids = [r["id"] for r in http.get("/v1/releases").json()["releases"]]
    url = f"/v1/releases/{ids[0]}/diff/{ids[1]}"
    first, again = http.get(url), http.get(url)
    assert first.content == again.content  # the second answer is the same cached bytes
    assert first.json() == json.loads(json.dumps(ReleaseStore().diff(ids[0], ids[1], "en")))
    assert http.get(f"/v1/releases/{ids[0]}/diff/%25").status_code == 404


# ---------------------------------------------------------------- rule checks compiled at start-up

def test_the_server_refuses_to_start_on_a_rule_check_that_does_not_compile(tmp_path: Path, seeds: Path) -> None:
    root = paths.data_root()
    for part in ("ontology", "kb"):
        shutil.copytree(root / part, tmp_path / part)
    checks = tmp_path / "kb" / "rules" / "checks.ttl"
    text = checks.read_text(encoding="utf-8")
    broken = text.replace("FILTER NOT EXISTS { ?under ?via ?value }", "FILTER NOT EXISTS { ?under ?via ?value ", 1)
    assert broken != text
    checks.write_text(broken, encoding="utf-8")
    env = {**os.environ, "CONNECTKB_DATA_DIR": str(tmp_path), "CONNECTKB_SEEDS_DIR": str(seeds)}
    result = subprocess.run([sys.executable, "-m", "connectkb.cli", "serve", "--port", str(free_port())], env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 1
    assert "connectkb refuses to start" in result.stderr and "Traceback" not in result.stderr
    assert "check/value-listed-by-kb" in result.stderr and "does not compile" in result.stderr
    assert "used by rule " in result.stderr and "rule collateral-otcc-margin" in result.stderr


# ---------------------------------------------------------------- property-based run over the OpenAPI

HOSTILE = ["%", "%25", ">", "<", "x> ?p ?o } #", '"', "'", "\\", "{", "}", "#", "\r\n", "\x00", "\u2028",
           "ck:", "ck:%", ":", "/", "//", "..", "../..", "a" * 5000, "０", "汇丰", "🙂", "-1", "0", "1e309", "NaN",
           "null", "[]", "{}", "true", "2025-02-30", "2025-13-01", "0000-00-00", "9999-12-31", "hsbc", "boc",
           "witness-account-opening", "role-agent-witness-bank", "2026.11.0", "2026.11.1", "SELECT * WHERE { ?s ?p ?o }",
           "ASK {}", "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1", "zh", "en", "zh-Hans", "xx"]
FACT_NAMES = ["age", "hk_permanent_resident", "witness_bank", "documents", "account_class", "bond_type", "held_via",
              "counterparties", "tenor", "residual_maturity_years", "maturity_date", "outstanding_cny",
              "denomination_currency", "issue_rating", "features", "quote_days_last_20"]

text_values = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40), st.integers(-10**6, 10**6).map(str),
                        st.dates().map(lambda d: d.isoformat()))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False),
              st.sampled_from(HOSTILE), st.text(max_size=30)),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)
facts = st.dictionaries(st.one_of(st.sampled_from(FACT_NAMES), st.text(max_size=12)), json_values, max_size=6)
bodies = st.one_of(
    st.fixed_dictionaries({"facts": facts}, optional={"as_of": st.one_of(text_values, json_values)}).map(
        lambda d: ("application/json", __import__("json").dumps(d).encode())),
    st.tuples(st.sampled_from(["application/json", "text/turtle", "application/ld+json", "text/plain",
                               "application/sparql-query", "application/x-www-form-urlencoded"]),
              st.one_of(st.binary(max_size=200), text_values.map(str.encode))),
)


EXAMPLES = int(os.environ.get("CONNECTKB_FUZZ_EXAMPLES", "300"))  # per operation; ~60 s in all on 2 cores


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]], bool]]:
    out = []
    for path, item in sorted(spec["paths"].items()):
        for method, operation in item.items():
            if method in ("get", "post", "put", "delete", "patch"):
                out.append((path, method, operation.get("parameters", []), "requestBody" in operation
                            or method == "post"))
    return out


# real values, so that generated requests also get past the look-up to the code behind it
KNOWN = {"rule_id": ["witness-account-opening", "collateral-otcc-margin", "offshore-rmb-repo-counterparties"],
         "entity_id": ["hsbc", "boc", "ck:RoleAssignment", "role-agent-witness-bank"],
         "path": ["hsbc", "role-assignment/hsbc-agent-witness-bank", "criterion/witness-minimum-age", "RoleAssignment"],
         "a": ["2026.11.0", "2026.11.1"], "b": ["2026.11.0", "2026.11.1"], "measure": ["northbound-bond-connect"],
         "role": ["role-agent-witness-bank"], "type": ["CommercialBank", "PolicyMeasure"],
         "from": ["2024-12-31"], "to": ["2025-12-31"], "as_of": ["2025-03-01"], "name": ["connectkb-2026.11.1.ttl"]}


def _value(parameter: dict[str, Any]) -> st.SearchStrategy[Any]:
    schema = parameter.get("schema", {})
    candidates = [text_values]
    if parameter["name"] in KNOWN:
        candidates.append(st.sampled_from(KNOWN[parameter["name"]]))
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "integer":
            candidates.append(st.integers(-10, 10**6).map(str))
        if "enum" in option:
            candidates.append(st.sampled_from(option["enum"]))
    return st.one_of(*candidates)


@pytest.fixture(scope="module")
def fuzz_server(kb: LoadedKB) -> Iterator[tuple[LiveServer, dict[str, Any]]]:
    app = create_app(kb)
    with LiveServer(app, free_port()) as live:
        yield live, app.openapi()


def test_no_route_answers_a_server_error_to_generated_hostile_input(
        fuzz_server: tuple[LiveServer, dict[str, Any]]) -> None:
    """Every route of the OpenAPI, its path, query and header parameters and its body drawn from hostile
    and random values, over real HTTP (uvicorn). A 503 would be the evaluation's own time limit (10 s by
    default), which no generated request reaches; none is excluded from the count."""
    live, spec = fuzz_server
    operations = _operations(spec)
    assert len(operations) >= 12
    failures: list[str] = []
    timings: list[str] = []

    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        for path, method, parameters, has_body in operations:
            started = time.monotonic()
            _fuzz_operation(client, path, method, parameters, has_body, EXAMPLES, failures)
            timings.append(f"{method.upper()} {path}: {time.monotonic() - started:.1f}s")
    print("\n".join(timings))
    assert not failures, "\n".join(failures[:20])


def _fuzz_operation(client: httpx.Client, path: str, method: str, parameters: list[dict[str, Any]], has_body: bool,
                    examples: int, failures: list[str]) -> None:
    strategies = {p["name"]: (p["in"], _value(p), p.get("required", False)) for p in parameters}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        url, query, headers = path, {}, {}  # type: ignore[var-annotated]
        for name, (where, strategy, required) in strategies.items():
            if not required and where != "path" and not data.draw(st.booleans()):
                continue
            value = data.draw(strategy)
            if where == "path":
                raw = data.draw(st.booleans())
                url = url.replace("{" + name + "}", quote(value, safe="/:" if raw else ""))
            elif where == "query":
                query[name] = value
            elif where == "header":
                # raw UTF-8 bytes, as a hostile client sends them; CR, LF and NUL cannot be sent at all
                headers[name.replace("_", "-")] = value.encode("utf-8", "replace").translate(None, b"\r\n\x00")
        headers["accept"] = data.draw(st.sampled_from(
            ["application/json", "text/turtle", "text/html", "*/*", "application/ld+json",
             "application/sparql-results+json", "text/csv", "image/png", "text/turtle;q=0, */*;q=0.1"]))
        content = None
        if has_body:
            content_type, content = data.draw(bodies)
            headers["content-type"] = content_type
        try:
            response = client.request(method.upper(), url, params=query, headers=headers, content=content)
        except (httpx.InvalidURL, httpx.LocalProtocolError):
            return  # the client cannot send it (e.g. a NUL in the path or a header), so no server sees it
        if response.status_code >= 500:
            failures.append(f"{method.upper()} {url} {query} {headers} {content!r:.200} -> "
                            f"{response.status_code} {response.text[:200]}")

    run()
