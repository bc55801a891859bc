"""Linked data: every KB and ontology IRI dereferences through the service, with content negotiation
(HTML for browsers; Turtle, JSON-LD, N-Triples, RDF/XML for machines), and whole-KB dumps at stable
addresses with the release in the name."""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from rdflib import Graph

from .entities import EntityService, normalise_lang, to_id
from .namespaces import BASE, PREFIXES
from .sparql_protocol import negotiate
from .store import Row, SparqlBackend, rdflib_term

BASE_ENV = "CONNECTKB_BASE_IRI"
RDF_FORMATS = {"text/turtle": ("turtle", "ttl"), "application/ld+json": ("json-ld", "jsonld"),
               "application/n-triples": ("nt", "nt"), "application/rdf+xml": ("xml", "rdf")}
_ALIASES = {"application/x-turtle": "text/turtle", "application/json": "application/ld+json",
            "text/plain": "application/n-triples", "application/xhtml+xml": "text/html"}
_DEPTH = 6  # blank-node nesting followed (SHACL property shapes, lists)


def base_iri() -> str:
    """The IRI base the service answers for; the KB's own by default (w3id.org redirects here)."""
    return os.environ.get(BASE_ENV, BASE)


def describe(backend: SparqlBackend, iri: str) -> Graph:
    """The concise bounded description of `iri`: its statements and those of the blank nodes they hold."""
    patterns = [f"{{ BIND(<{iri}> AS ?s) ?s ?p ?o }}"]
    chain = f"<{iri}> ?p0 ?b0 . FILTER(isBlank(?b0))"
    for depth in range(_DEPTH):
        patterns.append(f"{{ {chain} BIND(?b{depth} AS ?s) ?s ?p ?o }}")
        chain += f" ?b{depth} ?p{depth + 1} ?b{depth + 1} . FILTER(isBlank(?b{depth + 1}))"
    rows: list[Row] = backend.select(f"SELECT DISTINCT ?s ?p ?o WHERE {{ {' UNION '.join(patterns)} }}")
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    for row in rows:
        graph.add((rdflib_term(row["s"]), rdflib_term(row["p"]), rdflib_term(row["o"])))
    return graph


def _format_choice(request: Request) -> str | None:
    return negotiate(request.headers.get("accept"), _ALIASES, ["text/turtle", "text/html", *list(RDF_FORMATS)[1:]])


def build_router(backend: SparqlBackend, entities: EntityService, render_entity: Callable[[dict[str, Any], str,
                 str], str], release: str | None, dump: Callable[[str], bytes]) -> APIRouter:
    router = APIRouter()

    def resolve(request: Request, iri: str, lang: str | None) -> Response:
        media = _format_choice(request)
        if media is None:
            return Response(f"this resource is offered as: text/html, {', '.join(RDF_FORMATS)}\n", status_code=406)
        if media == "text/html":
            language = normalise_lang(lang or request.headers.get("accept-language"))
            entity = entities.get(to_id(iri), language)
            if entity is None:
                return HTMLResponse(f"<h1>Not found</h1><p>{html.escape(iri)} is not in the knowledge base.</p>",
                                    status_code=404)
            return HTMLResponse(render_entity(entity, language, str(request.url).split("?")[0]),
                                headers={"Vary": "Accept, Accept-Language"})
        graph = describe(backend, iri)
        if not len(graph):
            return Response(f"<{iri}> is not in the knowledge base\n", status_code=404, media_type="text/plain")
        return Response(graph.serialize(format=RDF_FORMATS[media][0]), media_type=media, headers={"Vary": "Accept"})

    def iri_for(request: Request, path: str) -> str:
        return base_iri() + path

    @router.get("/id/{path:path}", summary="Dereference a KB IRI (content negotiation)")
    def kb_iri(path: str, request: Request, lang: str | None = None) -> Response:
        return resolve(request, iri_for(request, "id/" + path), lang)

    @router.get("/ontology/{path:path}", summary="Dereference an ontology IRI (content negotiation)")
    def ontology_iri(path: str, request: Request, lang: str | None = None) -> Response:
        return resolve(request, iri_for(request, "ontology/" + path), lang)

    @router.get("/dumps", summary="Whole-KB dumps of the current release")
    def dumps() -> dict[str, Any]:
        names = [f"connectkb-{release}.{ext}" for _, ext in RDF_FORMATS.values()]
        return {"release": release, "dumps": [{"name": n, "href": f"/dumps/{n}"} for n in names]}

    @router.get("/dumps/{name}", summary="One whole-KB dump")
    def one_dump(name: str) -> Response:
        for media, (_, ext) in RDF_FORMATS.items():
            if name == f"connectkb-{release}.{ext}":
                return Response(dump(media), media_type=media,
                                headers={"Content-Disposition": f'attachment; filename="{name}"'})
        known = ", ".join(f"connectkb-{release}.{ext}" for _, ext in RDF_FORMATS.values())
        return Response(f"no dump '{name}'; this release offers: {known}\n", status_code=404,
                        media_type="text/plain")

    return router


def dump_maker(backend: SparqlBackend) -> Callable[[str], bytes]:
    """Serialize the whole KB once per format, on first request."""
    cache: dict[str, bytes] = {}

    def make(media: str) -> bytes:
        if media not in cache:
            graph = Graph()
            for prefix, namespace in PREFIXES.items():
                graph.bind(prefix, namespace)
            for row in backend.select("SELECT ?s ?p ?o WHERE { ?s ?p ?o }"):
                graph.add((rdflib_term(row["s"]), rdflib_term(row["p"]), rdflib_term(row["o"])))
            cache[media] = graph.serialize(format=RDF_FORMATS[media][0]).encode("utf-8")
        return cache[media]

    return make
