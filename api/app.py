"""The HTTP API: a thin FastAPI layer over the engines."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from . import __version__
from .entities import BadIdentifier, EntityService, normalise_lang
from .knowledge import LoadedKB, load


def choose_lang(lang: str | None, accept_language: str | None) -> str:
    """`lang=` wins; otherwise the first language of Accept-Language we serve."""
    if lang:
        return normalise_lang(lang)
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith(("zh", "en")):
            return normalise_lang(tag)
    return "en"


def create_app(kb: LoadedKB | None = None) -> FastAPI:
    """Build the app on a loaded KB; with none given, load (and validate) the KB now or refuse."""
    kb = kb or load()
    entities = EntityService(kb.backend)
    app = FastAPI(title="connectkb", version=__version__,
                  description="Hong Kong–mainland financial connectivity policy and the offshore RMB market, "
                              "as cited RDF.")
    app.state.kb = kb
    app.state.entities = entities

    @app.exception_handler(BadIdentifier)
    async def bad_identifier(_: Request, exc: BadIdentifier) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": [{"loc": ["path", "id"], "msg": str(exc),
                                                                  "type": "value_error"}]})

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "triples": kb.triple_count, "release": kb.release,
                "conforms": kb.report.ok, "quotes_checked": kb.report.quotes_checked,
                "load_seconds": round(kb.timings.get("total_s", 0.0), 3)}

    @app.get("/v1/entities")
    def list_entities(
        type: Annotated[str | None, Query(description="class local name, CURIE or IRI, e.g. CommercialBank")] = None,
        q: Annotated[str | None, Query(min_length=1, max_length=200,
                                       description="text in a label, name or code")] = None,
        lang: Annotated[str | None, Query(pattern="^(en|zh)(-[A-Za-z]+)?$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        language = choose_lang(lang, accept_language)
        if type and not entities.type_matches(type):
            raise HTTPException(status_code=422, detail=[{
                "loc": ["query", "type"], "type": "value_error",
                "msg": f"unknown type '{type}': expected a class of the KB such as CommercialBank, "
                       "PolicyMeasure, LiquidityFacility, Statistic or RoleAssignment"}])
        total, items = entities.search(type, q, language, limit, offset)
        return {"total": total, "limit": limit, "offset": offset, "lang": language, "items": items}

    @app.get("/v1/entities/{entity_id:path}")
    def get_entity(
        entity_id: str,
        lang: Annotated[str | None, Query(pattern="^(en|zh)(-[A-Za-z]+)?$")] = None,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        entity = entities.get(entity_id, choose_lang(lang, accept_language))
        if entity is None:
            raise HTTPException(status_code=404, detail=f"no entity '{entity_id}' in the knowledge base; "
                                "search with GET /v1/entities?q=…")
        return entity

    return app
