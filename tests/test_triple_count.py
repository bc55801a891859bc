"""Every place that states the size of the KB states the same number, and it is what the store holds."""

from __future__ import annotations

import httpx
from rdflib import Graph
from rdflib.namespace import RDF

from connectkb.sparql.protocol import VOID


def test_health_void_releases_and_a_count_query_agree_on_the_triple_count(http: httpx.Client) -> None:
    counted = http.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"},
                       headers={"Accept": "application/sparql-results+json"})
    assert counted.status_code == 200, counted.text
    in_store = int(counted.json()["results"]["bindings"][0]["n"]["value"])
    health = http.get("/health").json()["triples"]
    void = Graph().parse(data=http.get("/.well-known/void", headers={"Accept": "text/turtle"}).content,
                         format="turtle")
    stated = int(void.value(next(void.subjects(RDF.type, VOID.Dataset)), VOID.triples))
    releases = http.get("/v1/releases").json()
    current = next(r for r in releases["releases"] if r["current"])
    assert health == stated == current["triples"] == in_store, (health, stated, current["triples"], in_store)
