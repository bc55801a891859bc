"""The HTTP conventions a client expects, asked over real HTTP on both backends: one error format
(RFC 9457 problem details), caching validators and 304s, gzip, HEAD, Vary, Accept-Language q-values,
406 with what is offered, pagination links, and a version header on every answer."""

from __future__ import annotations

import gzip
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import httpx
import pytest

from connectkb import __version__

# (method, path, request options, status, where the fault is — or None for a problem without a field)
ERROR_PATHS: list[tuple[str, str, dict[str, Any], int, list[str] | None]] = [
    ("GET", "/v1/entities", {"params": {"type": "Bank"}}, 422, ["query", "type"]),
    ("GET", "/v1/entities", {"params": {"limit": "0"}}, 422, ["query", "limit"]),
    ("GET", "/v1/entities", {"params": {"role": "role-nothing"}}, 422, ["query", "role"]),
    ("GET", "/v1/entities/no-such-bank", {}, 404, None),
    ("GET", "/v1/entities/hs<bc>", {}, 422, ["path", "id"]),
    ("GET", "/v1/changes", {"params": {"from": "2025-13-01"}}, 422, ["query", "from"]),
    ("GET", "/v1/releases/2026.11.0/diff/1999.1", {}, 404, ["path", "b"]),
    ("GET", "/v1/rules/no-such-rule", {}, 404, None),
    ("POST", "/v1/rules/witness-account-opening/evaluate", {"json": {"facts": {"age": "old"}}}, 422,
     ["body", "facts", "age"]),
    ("POST", "/v1/rules/witness-account-opening/evaluate", {"content": b"x", "headers": {"Content-Type": "image/png"}},
     415, None),
    ("GET", "/no/such/route", {}, 404, None),
    ("DELETE", "/health", {}, 405, None),
    ("GET", "/id/no-such-thing", {"headers": {"Accept": "text/turtle"}}, 404, None),
    ("GET", "/id/no-such-thing", {"headers": {"Accept": "text/html"}}, 404, None),
    ("GET", "/id/hsbc", {"headers": {"Accept": "image/png"}}, 406, None),
    ("GET", "/dumps/connectkb-1999.1.ttl", {}, 404, None),
    ("GET", "/sparql", {"params": {"query": "SELEC nothing"}}, 400, None),
    ("GET", "/sparql", {"params": {"update": "DROP ALL"}}, 403, None),
    ("POST", "/sparql", {"content": "ASK {}", "headers": {"Content-Type": "text/plain"}}, 415, None),
    ("GET", "/sparql", {"params": {"query": "ASK {}"}, "headers": {"Accept": "image/png"}}, 406, None),
    ("GET", "/.well-known/void", {"headers": {"Accept": "image/png"}}, 406, None),
]


@pytest.mark.parametrize(("method", "path", "options", "status", "loc"), ERROR_PATHS,
                         ids=[f"{m} {p} {s}" for m, p, _, s, _ in ERROR_PATHS])
def test_every_error_is_a_problem_details_object(http: httpx.Client, method: str, path: str,
                                                 options: dict[str, Any], status: int, loc: list[str] | None) -> None:
    response = http.request(method, path, **options)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status and problem["type"] == "about:blank"
    assert problem["title"] and problem["detail"]
    if loc is not None:
        assert problem["errors"][0]["loc"] == loc
        assert problem["errors"][0]["msg"] in problem["detail"]


def test_a_406_lists_what_the_resource_is_offered_as(http: httpx.Client) -> None:
    json_only = http.get("/v1/entities/hsbc", headers={"Accept": "text/turtle"})
    assert json_only.status_code == 406 and json_only.json()["acceptable"] == ["application/json"]
    linked = http.get("/id/hsbc", headers={"Accept": "image/png"}).json()
    assert {"text/html", "text/turtle", "application/ld+json"} <= set(linked["acceptable"])
    # a wildcard or a matching type is served as before
    assert http.get("/v1/entities/hsbc", headers={"Accept": "application/*"}).status_code == 200


def test_a_client_revalidates_an_entity_with_its_etag_and_gets_304(http: httpx.Client) -> None:
    first = http.get("/v1/entities/hsbc")
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and "max-age" in first.headers["cache-control"]
    again = http.get("/v1/entities/hsbc", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = http.get("/v1/entities/hsbc", headers={"If-None-Match": 'W/"something-else"'})
    assert other.status_code == 200 and other.json() == first.json()
    # another representation (Chinese) is another validator
    assert http.get("/v1/entities/hsbc?lang=zh").headers["etag"] != etag


def test_if_modified_since_answers_304_from_the_release_date(http: httpx.Client) -> None:
    first = http.get("/v1/rules")
    modified = parsedate_to_datetime(first.headers["last-modified"])
    assert http.get("/v1/rules", headers={"If-Modified-Since": first.headers["last-modified"]}).status_code == 304
    earlier = format_datetime(modified.replace(year=modified.year - 1), usegmt=True)
    assert http.get("/v1/rules", headers={"If-Modified-Since": earlier}).status_code == 200


def test_a_dump_is_immutable_and_the_health_check_is_always_revalidated(http: httpx.Client) -> None:
    release = http.get("/dumps").json()["release"]
    assert "immutable" in http.get(f"/dumps/connectkb-{release}.nt").headers["cache-control"]
    assert http.get("/health").headers["cache-control"] == "no-cache"


def test_the_turtle_dump_comes_gzipped_to_a_client_that_accepts_it(http: httpx.Client) -> None:
    release = http.get("/dumps").json()["release"]
    with http.stream("GET", f"/dumps/connectkb-{release}.ttl", headers={"Accept-Encoding": "gzip"}) as response:
        compressed = b"".join(response.iter_raw())
        assert response.headers["content-encoding"] == "gzip"
    plain = http.get(f"/dumps/connectkb-{release}.ttl", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(compressed) == plain.content
    assert len(compressed) < len(plain.content) / 3


@pytest.mark.parametrize("path", ["/health", "/v1/entities?q=HSBC", "/v1/entities/hsbc", "/v1/rules",
                                  "/v1/changes?from=2024-12-31&to=2025-01-31", "/v1/changes.atom", "/v1/releases",
                                  "/id/hsbc", "/ontology/core", "/sparql", "/.well-known/void", "/dumps", "/docs",
                                  "/context.jsonld"])
def test_head_answers_every_get_route_with_its_headers_and_no_body(http: httpx.Client, path: str) -> None:
    head = http.head(path, headers={"Accept-Encoding": "identity"})
    get = http.get(path, headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 == get.status_code
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert int(head.headers["content-length"]) == len(get.content)


def test_vary_names_the_headers_that_change_the_body(http: httpx.Client) -> None:
    entity = http.get("/v1/entities/hsbc")
    assert "accept-language" in entity.headers["vary"].lower()
    assert http.get("/v1/entities/hsbc", headers={"Accept-Language": "zh"}).json()["label"] != entity.json()["label"]
    turtle = http.get("/id/hsbc", headers={"Accept": "text/turtle"})
    assert "accept" in [v.strip().lower() for v in turtle.headers["vary"].split(",")]
    assert "accept" in [v.strip().lower() for v in http.get("/sparql").headers["vary"].split(",")]


@pytest.mark.parametrize(("accept_language", "expected"), [
    ("en;q=0.1, zh;q=0.9", "zh"), ("zh;q=0.2, en", "en"), ("fr, zh-CN;q=0.5", "zh"), ("zh;q=0, en;q=0.3", "en"),
])
def test_accept_language_q_values_pick_the_language(http: httpx.Client, accept_language: str, expected: str) -> None:
    answer = http.get("/v1/rules", headers={"Accept-Language": accept_language}).json()
    assert answer["lang"] == expected


def test_lists_link_to_their_next_and_previous_pages(http: httpx.Client) -> None:
    first = http.get("/v1/entities", params={"type": "CommercialBank", "limit": 2})
    assert first.json()["total"] > 4
    links = first.links
    assert "prev" not in links
    second = http.get(links["next"]["url"])
    assert second.json()["offset"] == 2 and second.json()["items"] != first.json()["items"]
    assert http.get(second.links["prev"]["url"]).json()["items"] == first.json()["items"]
    changes = http.get("/v1/changes", params={"from": "2024-12-31", "to": "2025-01-31", "limit": 3})
    body = changes.json()
    assert len(body["changes"]) == 3 and body["total"] > 3
    rest = http.get(changes.links["next"]["url"]).json()
    everything = http.get("/v1/changes", params={"from": "2024-12-31", "to": "2025-01-31"}).json()["changes"]
    assert body["changes"] == everything[:3] and rest["changes"] == everything[3:6]


def test_every_answer_names_the_software_and_kb_release(http: httpx.Client) -> None:
    release = http.get("/health").json()["release"]
    for response in [http.get("/health"), http.get("/no/such/route"),
                     http.post("/v1/rules/witness-account-opening/evaluate", json={"facts": {"age": 30}})]:
        version = response.headers["connectkb-version"]
        assert f'software="{__version__}"' in version and f'kb-release="{release}"' in version


def test_the_api_docs_load_their_assets_from_the_service(http: httpx.Client) -> None:
    page = http.get("/docs")
    assert page.status_code == 200 and "cdn" not in page.text.lower()
    assert '"/docs/assets/swagger-ui-bundle.js"' in page.text
    script = http.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text
    assert http.get("/docs/assets/swagger-ui.css").status_code == 200


def test_the_openapi_document_types_the_answers_and_the_errors(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ["/health", "/v1/entities", "/v1/entities/{entity_id}", "/v1/changes", "/v1/releases", "/dumps"]:
        ok = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in ok, path  # a named model, not a bare object
        problem = paths[path]["get"]["responses"]["422"]["content"]["application/problem+json"]["schema"]
        assert problem["$ref"].endswith("/Problem")
    assert "examples" in spec["components"]["schemas"]["EntityList"]
    assert set(paths["/id/{path}"]["get"]["responses"]["200"]["content"]) >= {"text/html", "text/turtle",
                                                                              "application/ld+json"}
    assert "application/sparql-results+json" in paths["/sparql"]["get"]["responses"]["200"]["content"]
    assert "application/atom+xml" in paths["/v1/changes.atom"]["get"]["responses"]["200"]["content"]
