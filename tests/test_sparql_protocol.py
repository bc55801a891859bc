"""The SPARQL 1.1 Protocol endpoint as other services use it, on both backends."""

from __future__ import annotations

import json

import httpx
from rdflib import Graph
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD

from connectkb.sparql.protocol import SD, VOID

HSBC_LABELS = ("SELECT ?l WHERE { <https://w3id.org/connectkb/id/hsbc> "
               "<http://www.w3.org/2000/01/rdf-schema#label> ?l } ORDER BY ?l")
CONSTRUCT = "CONSTRUCT WHERE { <https://w3id.org/connectkb/id/hsbc> ?p ?o }"


def _labels_json(response: httpx.Response) -> set[str]:
    return {b["l"]["value"] for b in response.json()["results"]["bindings"]}


def test_get_select_returns_json_by_default(http: httpx.Client) -> None:
    response = http.get("/sparql", params={"query": HSBC_LABELS})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/sparql-results+json")
    assert "The Hongkong and Shanghai Banking Corporation Limited (HSBC)" in _labels_json(response)


def test_post_form_and_post_direct_give_the_same_answer(http: httpx.Client) -> None:
    form = http.post("/sparql", data={"query": HSBC_LABELS})
    direct = http.post("/sparql", content=HSBC_LABELS, headers={"Content-Type": "application/sparql-query"})
    assert form.status_code == direct.status_code == 200
    assert _labels_json(form) == _labels_json(direct) == _labels_json(http.get("/sparql", params={"query": HSBC_LABELS}))


def test_select_in_every_results_format(http: httpx.Client) -> None:
    for accept, marker in [("application/sparql-results+xml", "<sparql"), ("text/csv", "l\r\n"),
                           ("text/tab-separated-values", "?l\n"), ("application/json", '"bindings"')]:
        response = http.get("/sparql", params={"query": HSBC_LABELS}, headers={"Accept": accept})
        assert response.status_code == 200, accept
        assert marker in response.text, (accept, response.text[:100])
        assert "HSBC" in response.text


def test_q_values_are_honoured(http: httpx.Client) -> None:
    accept = "application/sparql-results+json;q=0.2, text/csv;q=0.9, application/sparql-results+xml;q=0.5"
    response = http.get("/sparql", params={"query": HSBC_LABELS}, headers={"Accept": accept})
    assert response.headers["content-type"].startswith("text/csv")
    refused = http.get("/sparql", params={"query": HSBC_LABELS}, headers={"Accept": "text/csv;q=0, */*;q=0.1"})
    assert not refused.headers["content-type"].startswith("text/csv")


def test_ask_as_json_and_xml(http: httpx.Client) -> None:
    query = "ASK { <https://w3id.org/connectkb/id/hsbc> a ?type }"
    assert http.get("/sparql", params={"query": query}).json()["boolean"] is True
    xml = http.get("/sparql", params={"query": query}, headers={"Accept": "application/sparql-results+xml"})
    assert "<boolean>true</boolean>" in xml.text


def test_construct_and_describe_in_every_rdf_format(http: httpx.Client) -> None:
    sizes = set()
    for accept, rdflib_format in [("text/turtle", "turtle"), ("application/n-triples", "nt"),
                                  ("application/rdf+xml", "xml"), ("application/ld+json", "json-ld")]:
        response = http.get("/sparql", params={"query": CONSTRUCT}, headers={"Accept": accept})
        assert response.status_code == 200 and response.headers["content-type"].startswith(accept)
        sizes.add(len(Graph().parse(data=response.content, format=rdflib_format)))
    assert len(sizes) == 1 and sizes.pop() >= 8
    describe = http.get("/sparql", params={"query": "DESCRIBE <https://w3id.org/connectkb/id/hsbc>"},
                        headers={"Accept": "text/turtle"})
    assert describe.status_code == 200 and "hsbc" in describe.text


def test_406_when_no_format_fits(http: httpx.Client) -> None:
    response = http.get("/sparql", params={"query": HSBC_LABELS}, headers={"Accept": "image/png"})
    assert response.status_code == 406 and "application/sparql-results+json" in response.text
    construct = http.get("/sparql", params={"query": CONSTRUCT}, headers={"Accept": "text/csv"})
    assert construct.status_code == 406


def test_extra_client_parameters_are_ignored(http: httpx.Client) -> None:
    response = http.get("/sparql", params={"query": HSBC_LABELS, "format": "json", "output": "json",
                                           "results": "json", "timeout": "0"})
    assert response.status_code == 200 and _labels_json(response)


def test_urls_of_8_kb_are_accepted(http: httpx.Client) -> None:
    padding = " ".join(f'"{i:05d}"' for i in range(1100))
    query = HSBC_LABELS.replace("} ORDER BY", f"FILTER(?l NOT IN ({padding.replace(' ', ', ')})) }} ORDER BY")
    url = http.build_request("GET", "/sparql", params={"query": query}).url
    assert len(str(url)) > 8192
    response = http.get(url)
    assert response.status_code == 200, response.text[:200]
    assert "The Hongkong and Shanghai Banking Corporation Limited (HSBC)" in _labels_json(response)


def test_a_get_without_query_returns_the_service_description(http: httpx.Client) -> None:
    for accept, rdflib_format in [("text/turtle", "turtle"), ("application/ld+json", "json-ld"),
                                  ("application/rdf+xml", "xml")]:
        response = http.get("/sparql", headers={"Accept": accept})
        assert response.status_code == 200 and response.headers["content-type"].startswith(accept)
        graph = Graph().parse(data=response.content, format=rdflib_format)
        service = next(graph.subjects(RDF.type, SD.Service))
        assert (service, SD.supportedLanguage, SD.SPARQL11Query) in graph
        assert len(list(graph.objects(service, SD.resultFormat))) == 8
        features = set(graph.objects(service, SD.feature))
        assert {str(f).rsplit("#", 1)[1] for f in features} >= {"read-only", "time-limited", "capped-results"}
        assert all((f, RDF.type, SD.Feature) in graph and graph.value(f, RDFS.comment) for f in features)


def test_a_browser_opening_the_endpoint_gets_a_query_page_with_no_outside_assets(http: httpx.Client) -> None:
    page = http.get("/sparql", headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<textarea id="query" name="query"' in page.text and 'action="/sparql"' in page.text
    assert "http://" not in page.text.replace("http://www.w3.org/", "") and "cdn" not in page.text.lower()
    # the form's own submission, without JavaScript, is an ordinary protocol GET
    answer = http.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}, headers={"Accept": "text/html, */*;q=0.1"})
    assert answer.status_code == 200 and json.loads(answer.text)["boolean"] is True


def test_void_describes_the_dataset(http: httpx.Client) -> None:
    graph = Graph().parse(data=http.get("/.well-known/void", headers={"Accept": "text/turtle"}).content,
                          format="turtle")
    dataset = next(graph.subjects(RDF.type, VOID.Dataset))
    assert str(graph.value(dataset, VOID.sparqlEndpoint)).endswith("/sparql")
    assert int(graph.value(dataset, VOID.triples)) > 10000
    release = http.get("/health").json()["release"]
    dumps = {str(d) for d in graph.objects(dataset, VOID.dataDump)}
    assert {d.rsplit("/", 1)[1] for d in dumps} == {f"connectkb-{release}.{ext}" for ext in ("ttl", "nt", "rdf", "jsonld")}
    for dump in dumps:  # each named dump is served here
        assert http.head("/dumps/" + dump.rsplit("/", 1)[1]).status_code == 200
    assert str(graph.value(dataset, DCTERMS.license)) == "https://creativecommons.org/licenses/by/4.0/"
    assert graph.value(dataset, DCTERMS.modified).datatype == XSD.date


def test_cors_preflight_lets_browser_clients_in(http: httpx.Client) -> None:
    response = http.options("/sparql", headers={"Origin": "https://yasgui.example", "Access-Control-Request-Method":
                                                "POST", "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    simple = http.get("/sparql", params={"query": HSBC_LABELS}, headers={"Origin": "https://yasgui.example"})
    assert simple.headers["access-control-allow-origin"] == "*"


def test_malformed_requests_are_4xx_with_a_message(http: httpx.Client) -> None:
    syntax = http.get("/sparql", params={"query": "SELEKT * WHERE { ?s ?p ?o }"})
    assert syntax.status_code == 400 and "does not parse" in syntax.text
    two = http.get("/sparql?query=ASK%7B%7D&query=ASK%7B%7D")
    assert two.status_code == 400
    no_type = http.post("/sparql", content=HSBC_LABELS, headers={"Content-Type": ""})
    assert no_type.status_code == 400
    wrong_type = http.post("/sparql", content=HSBC_LABELS, headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    latin1 = http.post("/sparql", content="ASK { ?s ?p \"caf\xe9\" }".encode("latin-1"),
                       headers={"Content-Type": "application/sparql-query"})
    assert latin1.status_code == 400 and "UTF-8" in latin1.text
    big = http.post("/sparql", content=b"#" * 2_000_000, headers={"Content-Type": "application/sparql-query"})
    assert big.status_code == 413


def test_the_guards_refuse_on_either_backend(http: httpx.Client) -> None:
    for query, status, text in [
        ("SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }", 400, "own graphs"),
        ("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }", 403, "SERVICE"),
        ("LOAD <http://127.0.0.1:9/data.ttl>", 403, "read-only"),
        ("INSERT DATA { <urn:a> <urn:b> <urn:c> }", 403, "read-only"),
    ]:
        response = http.get("/sparql", params={"query": query})
        assert response.status_code == status and text in response.text, (query, response.text)
    dataset = http.get("/sparql", params={"query": HSBC_LABELS, "named-graph-uri": "file:///etc/passwd"})
    assert dataset.status_code == 400
    update = http.post("/sparql", data={"update": "CLEAR ALL"})
    assert update.status_code == 403
    direct_update = http.post("/sparql", content="CLEAR ALL", headers={"Content-Type": "application/sparql-update"})
    assert direct_update.status_code == 403
    assert json.loads(http.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}).text)["boolean"] is True
