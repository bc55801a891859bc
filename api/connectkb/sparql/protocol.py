"""The SPARQL 1.1 Protocol, queries only: GET and POST /sparql, the Service Description, and VoID.

This process only reads the request and checks its size; the query is canonicalized, parsed, guarded
(guard.py) and run in killable workers (pool.py) on the embedded store, or checked there and forwarded
to the external SPARQL server when one is configured. SPARQL requests wait for their worker on a thread
limiter of their own, never on the one shared by the other routes, and beyond the service's capacity
they are answered 503 at once: a burst of runaway queries cannot starve `/health` or the rest of the API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD

from ..common.namespaces import BASE, CK, KB
from ..common.negotiation import negotiate
from ..common.problems import problem
from .errors import QueryFailed
from .media import GRAPH_ALIASES, GRAPH_FORMATS, RESULT_FORMATS
from .pool import QueryAnswer, QueryRequest

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
FORMATS_NS = "http://www.w3.org/ns/formats/"
QUERY_PAGE = Path(__file__).resolve().parent / "query.html"
MAX_BODY_BYTES = 1_000_000
MAX_QUERY_BYTES = 32 * 1024
# the whole-KB dumps linked data serves at /dumps (linked_data/describe.py RDF_FORMATS)
DUMP_FORMATS = {"ttl": "text/turtle", "nt": "application/n-triples", "rdf": "application/rdf+xml",
                "jsonld": "application/ld+json"}
_RDFLIB_FORMATS = {"text/turtle": "turtle", "application/n-triples": "nt", "application/rdf+xml": "xml",
                   "application/ld+json": "json-ld"}


def _error(status: int, message: str, **extensions: Any) -> Response:
    return problem(status, message, **extensions)


class SparqlService:
    """What the protocol layer needs from a store: the graphs it may name, and a way to check and run a
    request as the client sent it. At most `capacity` requests are handed to `run` at once."""

    def __init__(self, run: Callable[[QueryRequest], QueryAnswer], graphs: Callable[[], set[str]],
                 triple_count: int, release: str | None, max_rows: int = 10_000, max_bytes: int = 20_000_000,
                 close: Callable[[], None] = lambda: None, max_query_bytes: int = MAX_QUERY_BYTES,
                 capacity: int = 16, license: str | None = None, modified: str | None = None):
        self.run = run
        self.close = close
        self.graphs = graphs
        self.triple_count = triple_count
        self.release = release
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.max_query_bytes = max_query_bytes
        self.capacity = capacity
        self.license = license  # the KB's own dcterms:license of kb:dataset
        self.modified = modified  # the current release's issue date


def build_router(service: SparqlService) -> APIRouter:
    router = APIRouter()
    in_flight = 0
    limiter: anyio.CapacityLimiter | None = None  # made on first use: it belongs to the running event loop

    def respond(text: str, default_graphs: list[str], named_graphs: list[str], accept: str | None,
                base_iri: str) -> Response:
        request = QueryRequest(text=text, accept=accept, default_graphs=default_graphs, named_graphs=named_graphs,
                               max_rows=service.max_rows, max_bytes=service.max_bytes, base_iri=base_iri)
        try:
            answer = service.run(request)
        except QueryFailed as exc:
            if exc.status == 406:
                return _error(406, exc.message, acceptable=[*RESULT_FORMATS, *GRAPH_FORMATS])
            return _error(exc.status, exc.message)
        charset = "; charset=utf-8" if not answer.media_type.endswith("xml") else ""
        return Response(answer.body, media_type=answer.media_type + charset, headers={"Vary": "Accept"})

    async def answer(request: Request, text: str, default_graphs: list[str], named_graphs: list[str]) -> Response:
        nonlocal in_flight, limiter
        size = len(text.encode("utf-8"))
        if size > service.max_query_bytes:
            return _error(413, f"the query is {size} bytes, larger than this endpoint's limit of "
                               f"{service.max_query_bytes} bytes")
        if in_flight >= service.capacity:  # the event loop is one thread: no lock needed
            return _error(503, "too many SPARQL requests are running or waiting; try again shortly")
        if limiter is None:
            limiter = anyio.CapacityLimiter(service.capacity)
        in_flight += 1
        try:
            return await anyio.to_thread.run_sync(respond, text, default_graphs, named_graphs,
                                                  request.headers.get("accept"), str(request.url).split("?")[0],
                                                  limiter=limiter)
        finally:
            in_flight -= 1

    def description(request: Request) -> Response:
        # a browser (text/html first) gets the query page; an RDF client the description, Turtle by default
        offered = [*GRAPH_FORMATS, "text/html"]
        media = negotiate(request.headers.get("accept"), {**GRAPH_ALIASES, "application/xhtml+xml": "text/html"},
                          offered)
        if media is None:
            return _error(406, f"the service description is offered as: {', '.join(offered)}", acceptable=offered)
        if media == "text/html":
            return FileResponse(QUERY_PAGE, media_type="text/html; charset=utf-8", headers={"Vary": "Accept"})
        graph = service_description(str(request.url).split("?")[0], service)
        return Response(graph.serialize(format=_RDFLIB_FORMATS[media]), media_type=media, headers={"Vary": "Accept"})

    answers = {200: {"description": "query results, a graph, or (without a query) the Service Description",
                     "content": {m: {} for m in [*RESULT_FORMATS, *GRAPH_FORMATS, "text/html"]}},
               400: {"description": "the query does not parse, is refused by the guards, or its result is over "
                                    "the caps (problem details)"},
               403: {"description": "an update: this endpoint is read-only (problem details)"},
               503: {"description": "over the time limit or too busy (problem details)"}}

    @router.get("/sparql", include_in_schema=True, summary="SPARQL 1.1 query (GET), or the Service Description",
                response_class=Response, responses=answers)
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

    @router.post("/sparql", summary="SPARQL 1.1 query (POST, form-encoded or direct)", response_class=Response,
                 responses={**answers, 413: {"description": "the body or query is too large (problem details)"},
                            415: {"description": "an unsupported Content-Type (problem details)"}})
    async def sparql_post(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _error(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
        url_params = parse_qs(request.url.query, keep_blank_values=True)
        if "update" in url_params:  # an update is refused wherever it is put, never ignored
            return _error(403, "this endpoint is read-only: SPARQL updates are refused")
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

    @router.get("/.well-known/void", summary="VoID description of the dataset", response_class=Response,
                responses={200: {"description": "the VoID description", "content": {m: {} for m in GRAPH_FORMATS}}})
    async def void(request: Request) -> Response:
        media = negotiate(request.headers.get("accept"), GRAPH_ALIASES, list(GRAPH_FORMATS))
        if media is None:
            return _error(406, f"VoID is offered as: {', '.join(GRAPH_FORMATS)}", acceptable=list(GRAPH_FORMATS))
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
    # none of the SD vocabulary's own features holds (no URI dereferencing, no union default graph, no
    # federation), so the endpoint names the ones it has, each described here
    for name, comment in [
        ("read-only", "Only queries are answered: SPARQL Update, LOAD and SERVICE are refused (403)."),
        ("time-limited", "A query that runs past the endpoint's time limit is stopped and answered 503."),
        ("capped-results", f"A result of more than {service.max_rows} rows or {service.max_bytes} bytes is "
                           "refused (400) rather than cut short."),
        ("protocol-dataset", "default-graph-uri and named-graph-uri may name the knowledge base's own graphs."),
    ]:
        feature = URIRef(endpoint + "#" + name)
        g.add((node, SD.feature, feature))
        g.add((feature, RDF.type, SD.Feature))
        g.add((feature, RDFS.comment, Literal(comment, lang="en")))
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
    if service.license:
        g.add((dataset, DCTERMS.license, URIRef(service.license)))
    if service.modified:
        g.add((dataset, DCTERMS.modified, Literal(service.modified, datatype=XSD.date)))
    if service.release:
        for ext, media in DUMP_FORMATS.items():
            dump = URIRef(f"{base}/dumps/connectkb-{service.release}.{ext}")
            g.add((dataset, VOID.dataDump, dump))
            g.add((dump, DCTERMS["format"], Literal(media)))
    return g


def allowed_graphs(store: Any) -> Callable[[], set[str]]:
    names = {g.value for g in store.named_graphs()} if hasattr(store, "named_graphs") else set()
    return lambda: names
