"""HTTP routes of linked data and the web page: every KB and ontology IRI dereferences through the
service with content negotiation (HTML for browsers; Turtle, JSON-LD, N-Triples, RDF/XML for
machines), whole-KB dumps at stable addresses with the release in the name, and the web page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ..common.backend import SparqlBackend
from ..common.ids import BadIdentifier, iri_node, to_id
from ..common.languages import choose_lang
from ..common.negotiation import negotiate
from ..common.problems import problem
from ..knowledge.entities import EntityService
from .describe import RDF_FORMATS, base_iri, describe, jsonld_context, module_graph, ontology_modules, serialize
from .html_pages import render_entity, render_modules

WEB_DIR = Path(__file__).resolve().parent / "web"


class Dump(BaseModel):
    name: str = Field(description="connectkb-<release>.<ttl|jsonld|nt|rdf>")
    href: str


class DumpList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"release": "2026.12.0", "dumps": [
        {"name": "connectkb-2026.12.0.ttl", "href": "/dumps/connectkb-2026.12.0.ttl"}]}]})

    release: str | None
    dumps: list[Dump]
_ALIASES = {"application/x-turtle": "text/turtle", "application/json": "application/ld+json",
            "text/plain": "application/n-triples", "application/xhtml+xml": "text/html"}


def _format_choice(request: Request) -> str | None:
    return negotiate(request.headers.get("accept"), _ALIASES, ["text/turtle", "text/html", *list(RDF_FORMATS)[1:]])


def build_router(backend: SparqlBackend, entities: EntityService, release: str | None,
                 dump: Callable[[str], bytes]) -> APIRouter:
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    def home() -> FileResponse:
        """The web page: browse, eligibility, timeline."""
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    offered = ["text/html", *RDF_FORMATS]
    modules = ontology_modules()
    documents: dict[str, Any] = {}  # module graphs, parsed on first request

    def unacceptable() -> Response:
        return problem(406, f"this resource is offered as: {', '.join(offered)}", acceptable=offered)

    def resolve(request: Request, iri: str, lang: str | None) -> Response:
        media = _format_choice(request)
        if media is None:
            return unacceptable()
        try:
            iri_node(iri)
        except BadIdentifier:
            # no such IRI can be in the KB; it is never put into a query either
            return problem(404, f"{iri[:200]} is not a valid IRI, so it is not in the knowledge base")
        if media == "text/html":
            language = choose_lang(lang, request.headers.get("accept-language"))
            try:
                entity = entities.get(to_id(iri), language)
            except BadIdentifier:  # a valid IRI no entity id can name (e.g. under another base)
                entity = None
            if entity is None:
                return problem(404, f"<{iri}> is not in the knowledge base")
            return HTMLResponse(render_entity(entity, language, str(request.url).split("?")[0]),
                                headers={"Vary": "Accept, Accept-Language"})
        graph, truncated = describe(backend, iri)
        if not len(graph):
            return problem(404, f"<{iri}> is not in the knowledge base")
        headers = {"Vary": "Accept"}
        if truncated:
            headers["X-Description-Truncated"] = f"the description was cut at {len(graph)} statements"
        return Response(serialize(graph, media), media_type=media, headers=headers)

    def ontology_document(request: Request, name: str, lang: str | None) -> Response:
        """A module of the ontology (or, for '', all of it) as the Turtle document it is kept in."""
        media = _format_choice(request)
        if media is None:
            return unacceptable()
        if media == "text/html":
            if name:  # the module's own page: its owl:Ontology node
                return resolve(request, iri_for(request, "ontology/" + name), lang)
            language = choose_lang(lang, request.headers.get("accept-language"))
            return HTMLResponse(render_modules(sorted(modules), language), headers={"Vary": "Accept"})
        if name not in documents:
            documents[name] = module_graph([modules[name]] if name else list(modules.values()))
        return Response(serialize(documents[name], media), media_type=media, headers={"Vary": "Accept"})

    def iri_for(request: Request, path: str) -> str:
        return base_iri() + path

    described = {200: {"description": "the IRI's description: an HTML page for browsers, RDF for machines",
                       "content": {m: {} for m in offered}}}

    @router.get("/id/{path:path}", summary="Dereference a KB IRI (content negotiation)", response_class=Response,
                responses=described)
    def kb_iri(path: str, request: Request, lang: str | None = None) -> Response:
        return resolve(request, iri_for(request, "id/" + path), lang)

    @router.get("/ontology/{path:path}", summary="Dereference an ontology IRI (content negotiation)",
                description="`/ontology/` is the whole ontology and `/ontology/core` (`fx`, `indices`, `measures`, "
                            "`rules`, `shapes/integrity`) one module, as the document it is kept in; any other "
                            "path is a term, described.", response_class=Response, responses=described)
    def ontology_iri(path: str, request: Request, lang: str | None = None) -> Response:
        if path == "" or path in modules:
            return ontology_document(request, path, lang)
        return resolve(request, iri_for(request, "ontology/" + path), lang)

    @router.get("/context.jsonld", summary="The JSON-LD context of the service's JSON-LD answers")
    def context() -> JSONResponse:
        return JSONResponse(jsonld_context(), media_type="application/ld+json")

    @router.get("/dumps", summary="Whole-KB dumps of the current release", response_model=DumpList)
    def dumps() -> dict[str, Any]:
        names = [f"connectkb-{release}.{ext}" for _, ext in RDF_FORMATS.values()]
        return {"release": release, "dumps": [{"name": n, "href": f"/dumps/{n}"} for n in names]}

    @router.get("/dumps/{name}", summary="One whole-KB dump", response_class=Response,
                responses={200: {"description": "the whole KB", "content": {m: {} for m in RDF_FORMATS}}})
    def one_dump(name: str) -> Response:
        for media, (_, ext) in RDF_FORMATS.items():
            if name == f"connectkb-{release}.{ext}":
                return Response(dump(media), media_type=media,
                                headers={"Content-Disposition": f'attachment; filename="{name}"'})
        known = [f"connectkb-{release}.{ext}" for _, ext in RDF_FORMATS.values()]
        return problem(404, f"no dump '{name}'; this release offers: {', '.join(known)}", dumps=known)

    return router
