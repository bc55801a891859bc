"""HTTP routes of linked data and the web page: every KB and ontology IRI dereferences through the
service with content negotiation (HTML for browsers; Turtle, JSON-LD, N-Triples, RDF/XML for
machines), whole-KB dumps at stable addresses with the release in the name, and the web page."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from ..common.backend import SparqlBackend
from ..common.ids import BadIdentifier, iri_node, to_id
from ..common.languages import normalise_lang
from ..common.negotiation import negotiate
from ..knowledge.entities import EntityService
from .describe import RDF_FORMATS, base_iri, describe
from .html_pages import render_entity

WEB_DIR = Path(__file__).resolve().parent / "web"
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

    def resolve(request: Request, iri: str, lang: str | None) -> Response:
        media = _format_choice(request)
        if media is None:
            return Response(f"this resource is offered as: text/html, {', '.join(RDF_FORMATS)}\n", status_code=406)
        try:
            iri_node(iri)
        except BadIdentifier:
            # no such IRI can be in the KB; it is never put into a query either
            message = f"{iri[:200]} is not a valid IRI, so it is not in the knowledge base"
            if media == "text/html":
                return HTMLResponse(f"<h1>Not found</h1><p>{html.escape(message)}.</p>", status_code=404)
            return Response(message + "\n", status_code=404, media_type="text/plain")
        if media == "text/html":
            language = normalise_lang(lang or request.headers.get("accept-language"))
            try:
                entity = entities.get(to_id(iri), language)
            except BadIdentifier:  # a valid IRI no entity id can name (e.g. under another base)
                entity = None
            if entity is None:
                return HTMLResponse(f"<h1>Not found</h1><p>{html.escape(iri)} is not in the knowledge base.</p>",
                                    status_code=404)
            return HTMLResponse(render_entity(entity, language, str(request.url).split("?")[0]),
                                headers={"Vary": "Accept, Accept-Language"})
        graph, truncated = describe(backend, iri)
        if not len(graph):
            return Response(f"<{iri}> is not in the knowledge base\n", status_code=404, media_type="text/plain")
        headers = {"Vary": "Accept"}
        if truncated:
            headers["X-Description-Truncated"] = f"the description was cut at {len(graph)} statements"
        return Response(graph.serialize(format=RDF_FORMATS[media][0]), media_type=media, headers=headers)

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
