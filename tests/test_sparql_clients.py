"""Real SPARQL clients against the endpoint: SPARQLWrapper, rdflib's SPARQLStore, and Comunica (JS)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import JSON, TURTLE, SPARQLWrapper

from .conftest import LiveServer, debian_tool

JS = Path(__file__).parent / "js"
HSBC = "https://w3id.org/connectkb/id/hsbc"
SELECT = f"SELECT ?l WHERE {{ <{HSBC}> <http://www.w3.org/2000/01/rdf-schema#label> ?l }}"
ASK = f"ASK {{ <{HSBC}> a ?t }}"
CONSTRUCT = f"CONSTRUCT WHERE {{ <{HSBC}> ?p ?o }}"
LABEL = "The Hongkong and Shanghai Banking Corporation Limited (HSBC)"


def test_sparqlwrapper_select_ask_construct(server: LiveServer) -> None:
    client = SPARQLWrapper(f"{server.base_url}/sparql")
    client.setQuery(SELECT)
    client.setReturnFormat(JSON)
    rows = client.query().convert()["results"]["bindings"]
    assert LABEL in {r["l"]["value"] for r in rows}
    client.setQuery(ASK)
    assert client.query().convert()["boolean"] is True
    client.setQuery(CONSTRUCT)
    client.setReturnFormat(TURTLE)
    graph = Graph().parse(data=client.query().convert(), format="turtle")
    assert (URIRef(HSBC), None, None) in graph


def test_sparqlwrapper_post(server: LiveServer) -> None:
    client = SPARQLWrapper(f"{server.base_url}/sparql")
    client.setMethod("POST")
    client.setQuery(SELECT)
    client.setReturnFormat(JSON)
    assert LABEL in {r["l"]["value"] for r in client.query().convert()["results"]["bindings"]}


def test_rdflib_sparqlstore_select_ask_construct(server: LiveServer) -> None:
    # SPARQLStore asks for XML results: the endpoint must serve them
    graph = Graph(store=SPARQLStore(query_endpoint=f"{server.base_url}/sparql"))
    assert LABEL in {str(row[0]) for row in graph.query(SELECT)}
    assert graph.query(ASK).askAnswer is True
    constructed = graph.query(CONSTRUCT).graph
    assert (URIRef(HSBC), None, None) in constructed and len(constructed) >= 8


def _comunica(server: LiveServer, query: str) -> dict:
    node, npm = debian_tool("node", "nodejs", "npm"), debian_tool("npm", "nodejs", "npm")
    if not (JS / "node_modules" / "@comunica" / "query-sparql").is_dir():
        # the README's test command installs nothing from npm itself: the first run does, from the lock file
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JS, check=True, timeout=600)
    result = subprocess.run([node, str(JS / "comunica.mjs"), f"{server.base_url}/sparql", query],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_comunica_select_ask_construct(server: LiveServer) -> None:
    select = _comunica(server, SELECT)
    assert select["type"] == "bindings" and LABEL in {row["l"] for row in select["rows"]}
    ask = _comunica(server, ASK)
    assert ask == {"type": "boolean", "value": True}
    construct = _comunica(server, CONSTRUCT)
    assert construct["type"] == "quads" and any(q[0] == HSBC for q in construct["quads"])
