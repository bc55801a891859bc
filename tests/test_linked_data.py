"""Dereferenceable IRIs with content negotiation, and whole-KB dumps, on both backends."""

from __future__ import annotations

import httpx
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS

HSBC = URIRef("https://w3id.org/connectkb/id/hsbc")


def test_a_bank_iri_gives_turtle_to_machines_and_html_to_browsers(http: httpx.Client) -> None:
    turtle = http.get("/id/hsbc", headers={"Accept": "text/turtle"})
    assert turtle.status_code == 200 and turtle.headers["content-type"].startswith("text/turtle")
    graph = Graph().parse(data=turtle.text, format="turtle")
    assert (HSBC, RDFS.label, Literal("The Hongkong and Shanghai Banking Corporation Limited (HSBC)", lang="en")) in graph
    browser = http.get("/id/hsbc", headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert browser.headers["content-type"].startswith("text/html")
    assert "<h1>The Hongkong and Shanghai Banking Corporation Limited (HSBC)</h1>" in browser.text
    assert "Primary Liquidity Provider" in browser.text and "2024-10-27" in browser.text
    zh = http.get("/id/hsbc?lang=zh", headers={"Accept": "text/html"})
    assert "香港上海汇丰银行有限公司" in zh.text


def test_json_ld_and_n_triples_carry_the_same_statements(http: httpx.Client) -> None:
    sizes = set()
    for accept, fmt in [("text/turtle", "turtle"), ("application/ld+json", "json-ld"),
                        ("application/n-triples", "nt"), ("application/rdf+xml", "xml")]:
        response = http.get("/id/hsbc", headers={"Accept": accept})
        assert response.headers["content-type"].startswith(accept)
        sizes.add(len(Graph().parse(data=response.content, format=fmt)))
    assert len(sizes) == 1


def test_curl_with_no_preference_gets_turtle(http: httpx.Client) -> None:
    response = http.get("/id/role-assignment/hsbc-agent-witness-bank", headers={"Accept": "*/*"})
    assert response.headers["content-type"].startswith("text/turtle")
    assert "2025-01-13" in response.text


def test_ontology_terms_and_rule_shapes_dereference(http: httpx.Client) -> None:
    term = Graph().parse(data=http.get("/ontology/RoleAssignment", headers={"Accept": "text/turtle"}).text,
                         format="turtle")
    assert len(list(term.objects(URIRef("https://w3id.org/connectkb/ontology/RoleAssignment"), RDFS.label))) == 2
    shape = http.get("/id/criterion/witness-minimum-age", headers={"Accept": "text/turtle"})
    # the blank-node property shape comes along with the criterion
    assert "minInclusive" in shape.text and "18" in shape.text


def test_unknown_iris_are_404_and_unoffered_formats_406(http: httpx.Client) -> None:
    assert http.get("/id/no-such-thing", headers={"Accept": "text/turtle"}).status_code == 404
    assert http.get("/id/no-such-thing", headers={"Accept": "text/html"}).status_code == 404
    assert http.get("/id/hsbc", headers={"Accept": "image/png"}).status_code == 406


def test_whole_kb_dumps_have_the_release_in_their_name(http: httpx.Client) -> None:
    listing = http.get("/dumps").json()
    release = listing["release"]
    names = {d["name"] for d in listing["dumps"]}
    assert {f"connectkb-{release}.ttl", f"connectkb-{release}.jsonld", f"connectkb-{release}.nt"} <= names
    triples = http.get("/health").json()["triples"]
    nt = http.get(f"/dumps/connectkb-{release}.nt")
    assert nt.headers["content-type"].startswith("application/n-triples")
    assert len(Graph().parse(data=nt.text, format="nt")) >= triples - 50  # rdflib merges duplicate statements
    ttl = Graph().parse(data=http.get(f"/dumps/connectkb-{release}.ttl").text, format="turtle")
    assert (HSBC, None, None) in ttl
    assert http.get("/dumps/connectkb-1999.1.ttl").status_code == 404
