"""The W3C SPARQL 1.1 Protocol tests (../shared/conformance/w3c-sparql11-protocol), run against the
endpoint over HTTP by a small runner over the manifest. Update tests are expected to be refused by
this read-only endpoint; every such deviation is listed below with its reason."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyoxigraph as ox
import pytest
from fastapi import FastAPI
from rdflib import Graph, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS

from connectkb.common import paths
from connectkb.sparql.pool import QueryPool
from connectkb.sparql.protocol import SparqlService, allowed_graphs, build_router

from .conftest import REPO, LiveServer, free_port

CONFORMANCE_ENV = "CONNECTKB_CONFORMANCE_DIR"


def _suite() -> Path:
    """The outside test suites sit beside the seeds (../shared/conformance), or where CONNECTKB_CONFORMANCE_DIR says."""
    explicit = os.environ.get(CONFORMANCE_ENV)
    seeds = paths.seeds_dir()
    candidates = [Path(explicit)] if explicit else []
    candidates += [seeds.parent / "conformance"] if seeds else []
    candidates += [REPO.parent / "shared" / "conformance"]
    for candidate in candidates:
        if (candidate / "w3c-sparql11-protocol" / "manifest.ttl").is_file():
            return candidate / "w3c-sparql11-protocol"
    return candidates[0] / "w3c-sparql11-protocol"


SUITE = _suite()
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
HTS = Namespace("http://www.w3.org/2011/http-statusCodes#")

READ_ONLY = "update operation: this endpoint is read-only and refuses every update (403)"
EXPECTED_DEVIATIONS = {
    "update_dataset_default_graph": READ_ONLY,
    "update_dataset_default_graphs": READ_ONLY,
    "update_dataset_named_graphs": READ_ONLY,
    "update_dataset_full": READ_ONLY,
    "update_post_form": READ_ONLY,
    "update_post_direct": READ_ONLY,
    "update_base_uri": READ_ONLY,
}


def _manifest() -> tuple[Graph, list[URIRef]]:
    graph = Graph()
    if not (SUITE / "manifest.ttl").is_file():
        # one failing test that says where the suite was looked for, rather than an aborted collection
        return graph, [URIRef("urn:connectkb:missing-w3c-suite")]
    graph.parse(SUITE / "manifest.ttl", format="turtle", publicID=SUITE.as_uri() + "/manifest.ttl")
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    return graph, list(Collection(graph, graph.value(manifest, MF.entries)))


GRAPH, ENTRIES = _manifest()


def _name(entry: URIRef) -> str:
    return str(entry).rsplit("#", 1)[-1]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """An instance loaded with the manifest's data: each data file in the named graph the manifest
    gives it. The manifest also builds datasets from data0.rdf, which has no data file: it is held
    as an empty named graph, so that naming it is naming one of the instance's own graphs."""
    assert (SUITE / "manifest.ttl").is_file(), (f"the W3C SPARQL 1.1 Protocol suite is not at {SUITE}: "
                                                f"set {CONFORMANCE_ENV} to the folder that holds it")
    store = ox.Store()
    for data, name in {(o, GRAPH.value(b, RDFS.label)) for _, _, b in GRAPH.triples((None, UT.graphData, None))
                       for o in GRAPH.objects(b, UT.graph)}:
        path = SUITE / Path(str(data)).name
        for quad in ox.parse(path=path, format=ox.RdfFormat.N_TRIPLES):
            store.add(ox.Quad(quad.subject, quad.predicate, quad.object, ox.NamedNode(str(name))))
    store.add_graph(ox.NamedNode("http://kasei.us/2009/09/sparql/data/data0.rdf"))
    pool = QueryPool(store, workers=1, timeout_s=10)
    app = FastAPI()
    app.include_router(build_router(SparqlService(pool.run, allowed_graphs(store), len(store), None)))
    try:
        with LiveServer(app, free_port()) as live:
            yield live.base_url
    finally:
        pool.close()


def _requests(entry: URIRef) -> list[Any]:
    action = GRAPH.value(entry, MF.action)
    return list(Collection(GRAPH, GRAPH.value(action, HT.requests)))


def _send(base: str, request: Any) -> httpx.Response:
    method = str(GRAPH.value(request, HT.methodName))
    path = str(GRAPH.value(request, HT.absolutePath)).replace("/sparql/", "/sparql", 1)
    headers = {}
    header_list = GRAPH.value(request, HT.headers)
    if header_list is not None:
        for header in Collection(GRAPH, header_list):
            headers[str(GRAPH.value(header, HT.fieldName))] = str(GRAPH.value(header, HT.fieldValue))
    body = GRAPH.value(request, HT.body)
    content = None
    if body is not None:
        encoding = str(GRAPH.value(body, CNT.characterEncoding) or "UTF-8")
        content = str(GRAPH.value(body, CNT.chars)).encode(encoding)
    return httpx.request(method, base + path, headers=headers, content=content, timeout=30)


def _check(response: httpx.Response, expected: Any) -> None:
    classes = {str(s).rsplit("StatusCode", 1)[-1] for s in GRAPH.objects(expected, MF.expectedStatus)}
    assert f"{response.status_code // 100}xx" in classes, (response.status_code, classes, response.text[:300])
    form = GRAPH.value(expected, MF.expectedFormat)
    media = response.headers.get("content-type", "").split(";")[0]
    if form is not None and str(form) == "boolean":
        assert media in ("application/sparql-results+json", "application/sparql-results+xml"), media
    if form is not None and str(form) == "tabular":
        assert media in ("application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                         "text/tab-separated-values"), media
    if form is not None and str(form) == "RDF":
        assert media in ("text/turtle", "application/n-triples", "application/rdf+xml", "application/ld+json"), media
        Graph().parse(data=response.content, format={"text/turtle": "turtle", "application/n-triples": "nt",
                                                     "application/rdf+xml": "xml",
                                                     "application/ld+json": "json-ld"}[media])
    boolean = GRAPH.value(expected, MF.expectedBoolean)
    if boolean is not None:
        if media == "application/sparql-results+json":
            got = json.loads(response.content)["boolean"]
        else:
            got = "<boolean>true</boolean>" in response.text
        assert got is boolean.toPython()


@pytest.mark.parametrize("entry", ENTRIES, ids=[_name(e) for e in ENTRIES])
def test_w3c_protocol(endpoint: str, entry: URIRef) -> None:
    name = _name(entry)
    responses = []
    for request in _requests(entry):
        response = _send(endpoint, request)
        responses.append(response)
        if name in EXPECTED_DEVIATIONS:
            continue
        _check(response, GRAPH.value(request, HT.resp))
    if name in EXPECTED_DEVIATIONS:
        # the deviation is exactly the refusal, and the refusal is clean
        assert responses[0].status_code == 403 and "read-only" in responses[0].text, responses[0].text


def test_the_runner_covers_the_whole_manifest() -> None:
    assert len(ENTRIES) == 34
    queries = [e for e in ENTRIES if not _name(e).startswith(("update_", "bad_update"))]
    assert not {_name(e) for e in queries} & set(EXPECTED_DEVIATIONS), "no query test may be a deviation"
