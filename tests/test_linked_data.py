"""Dereferenceable IRIs with content negotiation, and whole-KB dumps, on both backends."""

from __future__ import annotations

import json

import httpx
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import OWL, RDF, RDFS

ORG_MEMBER = URIRef("http://www.w3.org/ns/org#member")
ROLE_ASSIGNMENT = URIRef("https://w3id.org/connectkb/ontology/RoleAssignment")

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
    labels = term.objects(URIRef("https://w3id.org/connectkb/ontology/RoleAssignment"), RDFS.label)
    assert {label.language.lower() for label in labels} >= {"en", "zh-hans"}
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


def test_json_ld_comes_compacted_with_the_published_context(http: httpx.Client) -> None:
    published = http.get("/context.jsonld")
    assert published.headers["content-type"].startswith("application/ld+json")
    context = published.json()["@context"]
    answer = http.get("/id/hsbc", headers={"Accept": "application/ld+json"}).json()
    assert answer["@context"] == context
    text = json.dumps(answer)
    assert '"kb:hsbc"' in text and '"rdfs:label"' in text  # IRIs compacted to the context's prefixes
    turtle = Graph().parse(data=http.get("/id/hsbc", headers={"Accept": "text/turtle"}).text, format="turtle")
    assert isomorphic(Graph().parse(data=json.dumps(answer), format="json-ld"), turtle)


def test_a_banks_rdf_carries_the_roles_its_page_shows(http: httpx.Client) -> None:
    graph = Graph().parse(data=http.get("/id/hsbc", headers={"Accept": "text/turtle"}).text, format="turtle")
    assignments = set(graph.subjects(ORG_MEMBER, HSBC))
    entity = http.get("/v1/entities/hsbc").json()
    assert len(assignments) == len(entity["roles"]) >= 2
    for assignment in assignments:
        assert (assignment, RDF.type, ROLE_ASSIGNMENT) in graph
        assert len(list(graph.predicate_objects(assignment))) >= 4  # its role, scheme, dates and citations


def test_the_ontology_and_each_module_are_documents(http: httpx.Client) -> None:
    core = Graph().parse(data=http.get("/ontology/core", headers={"Accept": "text/turtle"}).text, format="turtle")
    assert (URIRef("https://w3id.org/connectkb/ontology/core"), RDF.type, OWL.Ontology) in core
    assert (ROLE_ASSIGNMENT, RDFS.label, None) in core and len(core) > 100
    whole = Graph().parse(data=http.get("/ontology/", headers={"Accept": "text/turtle"}).text, format="turtle")
    assert len(set(whole.subjects(RDF.type, OWL.Ontology))) >= 5 and len(whole) > len(core)
    index = http.get("/ontology/", headers={"Accept": "text/html"})
    assert index.status_code == 200 and 'href="/ontology/core"' in index.text
