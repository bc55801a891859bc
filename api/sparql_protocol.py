"""The SPARQL 1.1 Protocol, queries only: GET and POST /sparql, the Service Description, and VoID.

Every request is parsed and guarded (sparql_guard) before it runs; queries run in killable workers
(sparql_pool) on the embedded store, or on the external SPARQL server when one is configured.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD

from .namespaces import BASE, CK, KB
from .sparql_guard import Refused, check_cached
from .sparql_pool import GRAPH_FORMATS, RESULT_FORMATS, QueryFailed, QueryRequest

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
FORMATS_NS = "http://www.w3.org/ns/formats/"
MAX_BODY_BYTES = 1_000_000

# what each media type a client may name resolves to, per kind of result
_RESULT_ALIASES = {**{m: m for m in RESULT_FORMATS}, "application/json": "application/sparql-results+json",
                   "application/xml": "application/sparql-results+xml", "text/xml": "application/sparql-results+xml"}
_GRAPH_ALIASES = {**{m: m for m in GRAPH_FORMATS}, "application/x-turtle": "text/turtle",
                  "text/plain": "application/n-triples", "application/json": "application/ld+json",
                  "application/xml": "application/rdf+xml"}
_RDFLIB_FORMATS = {"text/turtle": "turtle", "application/n-triples": "nt", "application/rdf+xml": "xml",
                   "application/ld+json": "json-ld"}


def negotiate(accept: str | None, aliases: dict[str, str], preferred: list[str]) -> str | None:
    """The media type to answer with (RFC 9110 §12.5.1): for each type we offer, the most specific
    range of the Accept header that matches it gives its q; the highest q wins, then the more specific
    match, then the client's order, then ours. None when nothing acceptable is offered."""
    if not accept or not accept.strip():
        return preferred[0]
    ranges: list[tuple[str, float, int]] = []
    for position, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        q = 1.0
        for param in fields[1:]:
            if param.lower().startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if fields[0]:
            ranges.append((fields[0].lower(), q, position))
    best: tuple[tuple[float, int, int, int], str] | None = None
    for rank, offered in enumerate(preferred):
        match: tuple[int, float, int] | None = None
        for media, q, position in ranges:
            if media == offered or aliases.get(media) == offered:
                specificity = 2
            elif media.endswith("/*") and media != "*/*" and offered.startswith(media[:-1]):
                specificity = 1
            elif media == "*/*":
                specificity = 0
            else:
                continue
            if match is None or specificity > match[0] or (specificity == match[0] and q > match[1]):
                match = (specificity, q, position)
        if match is None or match[1] <= 0:
            continue
        key = (match[1], match[0], -match[2], -rank)
        if best is None or key > best[0]:
            best = (key, offered)
    return best[1] if best else None


def _error(status: int, message: str) -> Response:
    return Response(message + "\n", status_code=status, media_type="text/plain; charset=utf-8")


class SparqlService:
    """What the protocol layer needs from a store: the graphs it may name, and a way to run a query."""

    def __init__(self, run: Callable[[QueryRequest], bytes], graphs: Callable[[], set[str]], triple_count: int,
                 release: str | None, max_rows: int = 10_000, max_bytes: int = 20_000_000,
                 close: Callable[[], None] = lambda: None):
        self.run = run
        self.close = close
        self.graphs = graphs
        self.triple_count = triple_count
        self.release = release
        self.max_rows = max_rows
        self.max_bytes = max_bytes


def build_router(service: SparqlService) -> APIRouter:
    router = APIRouter()

    def respond(text: str, default_graphs: list[str], named_graphs: list[str], accept: str | None,
                base_iri: str) -> Response:
        """Guard, negotiate, run: one trip to the thread pool per query."""
        try:
            checked = check_cached(text, tuple(default_graphs), tuple(named_graphs), frozenset(service.graphs()))
        except Refused as exc:
            return _error(exc.status, exc.message)
        if checked.form in ("SELECT", "ASK"):
            preferred = list(RESULT_FORMATS) if checked.form == "SELECT" else list(RESULT_FORMATS)[:2]
            media = negotiate(accept, _RESULT_ALIASES, preferred)
        else:
            media = negotiate(accept, _GRAPH_ALIASES, list(GRAPH_FORMATS))
        if media is None:
            offered = ", ".join(RESULT_FORMATS if checked.form in ("SELECT", "ASK") else GRAPH_FORMATS)
            return _error(406, f"none of the accepted media types can carry a {checked.form} result; "
                               f"this endpoint offers: {offered}")
        query = QueryRequest(text=checked.text, media_type=media,
                             default_graphs=checked.default_graphs if checked.dataset_from_protocol else [],
                             named_graphs=checked.named_graphs if checked.dataset_from_protocol else [],
                             max_rows=service.max_rows, max_bytes=service.max_bytes, base_iri=base_iri)
        try:
            body = service.run(query)
        except QueryFailed as exc:
            return _error(exc.status, exc.message)
        charset = "; charset=utf-8" if not media.endswith("xml") else ""
        return Response(body, media_type=media + charset, headers={"Vary": "Accept"})

    async def answer(request: Request, text: str, default_graphs: list[str], named_graphs: list[str]) -> Response:
        return await run_in_threadpool(respond, text, default_graphs, named_graphs, request.headers.get("accept"),
                                       str(request.url).split("?")[0])

    def description(request: Request) -> Response:
        media = negotiate(request.headers.get("accept"), _GRAPH_ALIASES, list(GRAPH_FORMATS))
        if media is None:
            return _error(406, f"the service description is offered as: {', '.join(GRAPH_FORMATS)}")
        graph = service_description(str(request.url).split("?")[0], service)
        return Response(graph.serialize(format=_RDFLIB_FORMATS[media]), media_type=media, headers={"Vary": "Accept"})

    @router.get("/sparql", include_in_schema=True, summary="SPARQL 1.1 query (GET), or the Service Description")
    async def sparql_get(request: Request) -> Response:
        params = parse_qs(request.url.query, keep_blank_values=True)
        if "update" in params:
            return _error(403, "this endpoint is read-only: updates are refused")
        queries = params.get("query", [])
        if not queries:
            return description(request)
        if len(queries) > 1:
            return _error(400, "give exactly one 'query' parameter")
        return await answer(request, queries[0], params.get("default-graph-uri", []),
                            params.get("named-graph-uri", []))

    @router.post("/sparql", summary="SPARQL 1.1 query (POST, form-encoded or direct)")
    async def sparql_post(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _error(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
        url_params = parse_qs(request.url.query, keep_blank_values=True)
        content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            return _error(400, "the request body is not UTF-8")
        if content_type == "application/x-www-form-urlencoded":
            form = parse_qs(text_body, keep_blank_values=True)
            if "update" in form:
                return _error(403, "this endpoint is read-only: SPARQL updates are refused")
            queries = form.get("query", [])
            if len(queries) != 1:
                return _error(400, "give exactly one 'query' parameter")
            return await answer(request, queries[0],
                                form.get("default-graph-uri", []) + url_params.get("default-graph-uri", []),
                                form.get("named-graph-uri", []) + url_params.get("named-graph-uri", []))
        if content_type == "application/sparql-query":
            return await answer(request, text_body, url_params.get("default-graph-uri", []),
                                url_params.get("named-graph-uri", []))
        if content_type == "application/sparql-update":
            return _error(403, "this endpoint is read-only: SPARQL updates are refused")
        if not content_type:
            return _error(400, "a POST needs a Content-Type: application/x-www-form-urlencoded or "
                               "application/sparql-query")
        return _error(415, f"unsupported Content-Type '{content_type}': send application/x-www-form-urlencoded "
                           "or application/sparql-query")

    @router.get("/.well-known/void", summary="VoID description of the dataset")
    async def void(request: Request) -> Response:
        media = negotiate(request.headers.get("accept"), _GRAPH_ALIASES, list(GRAPH_FORMATS))
        if media is None:
            return _error(406, f"VoID is offered as: {', '.join(GRAPH_FORMATS)}")
        base = str(request.base_url).rstrip("/")
        return Response(void_description(base, service).serialize(format=_RDFLIB_FORMATS[media]), media_type=media,
                        headers={"Vary": "Accept"})

    return router


def service_description(endpoint: str, service: SparqlService) -> Graph:
    g = Graph()
    g.bind("sd", SD)
    g.bind("void", VOID)
    node = URIRef(endpoint)
    g.add((node, RDF.type, SD.Service))
    g.add((node, SD.endpoint, node))
    g.add((node, SD.supportedLanguage, SD.SPARQL11Query))
    g.add((node, RDFS.comment, Literal("Read-only: updates, LOAD, SERVICE and datasets naming other graphs are "
                                       "refused; queries are time-limited and their results capped.", lang="en")))
    for media in [*RESULT_FORMATS, *GRAPH_FORMATS]:
        g.add((node, SD.resultFormat, URIRef(FORMATS_NS + {
            "application/sparql-results+json": "SPARQL_Results_JSON", "application/sparql-results+xml":
            "SPARQL_Results_XML", "text/csv": "SPARQL_Results_CSV", "text/tab-separated-values": "SPARQL_Results_TSV",
            "text/turtle": "Turtle", "application/n-triples": "N-Triples", "application/rdf+xml": "RDF_XML",
            "application/ld+json": "JSON-LD"}[media])))
    dataset = URIRef(endpoint + "#dataset")
    g.add((node, SD.defaultDataset, dataset))
    g.add((dataset, RDF.type, SD.Dataset))
    default_graph = URIRef(endpoint + "#default-graph")
    g.add((dataset, SD.defaultGraph, default_graph))
    g.add((default_graph, RDF.type, SD.Graph))
    g.add((default_graph, VOID.triples, Literal(service.triple_count, datatype=XSD.integer)))
    for name in sorted(service.graphs()):
        named = URIRef(endpoint + "#graph-" + re.sub(r"[^A-Za-z0-9]+", "-", name))
        g.add((dataset, SD.namedGraph, named))
        g.add((named, RDF.type, SD.NamedGraph))
        g.add((named, SD.name, URIRef(name)))
    return g


def void_description(base: str, service: SparqlService) -> Graph:
    g = Graph()
    g.bind("void", VOID)
    g.bind("dcterms", DCTERMS)
    dataset = KB.dataset
    g.add((dataset, RDF.type, VOID.Dataset))
    g.add((dataset, DCTERMS.title, Literal("connectkb knowledge base", lang="en")))
    g.add((dataset, VOID.sparqlEndpoint, URIRef(base + "/sparql")))
    g.add((dataset, VOID.triples, Literal(service.triple_count, datatype=XSD.integer)))
    g.add((dataset, VOID.uriSpace, Literal(str(KB))))
    g.add((dataset, VOID.vocabulary, URIRef(str(CK))))
    if service.release:
        g.add((dataset, CK.release, Literal(service.release)))
    g.add((dataset, DCTERMS.source, URIRef(BASE)))
    return g


def allowed_graphs(store: Any) -> Callable[[], set[str]]:
    names = {g.value for g in store.named_graphs()} if hasattr(store, "named_graphs") else set()
    return lambda: names
