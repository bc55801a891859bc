"""The HTTP API: a thin FastAPI layer over the engines."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError

from . import __version__
from .entities import BadIdentifier, EntityService, normalise_lang
from .fact_input import JSON_LD, TURTLE, graph_to_facts, parse_fact_graph
from .knowledge import LoadedKB, load
from .rules import FactError, RuleNotFound, RulesEngine

LangQuery = Annotated[str | None, Query(pattern="^(en|zh)(-[A-Za-z]+)?$")]


class EvaluationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    facts: dict[str, Any]
    as_of: dt.date | None = None


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
    rules = RulesEngine(kb.backend, entities.citations, entities.label_of)
    app = FastAPI(title="connectkb", version=__version__,
                  description="Hong Kong–mainland financial connectivity policy and the offshore RMB market, "
                              "as cited RDF.")
    app.state.kb = kb
    app.state.entities = entities
    app.state.rules = rules

    @app.exception_handler(RuleNotFound)
    async def rule_not_found(_: Request, exc: RuleNotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={
            "detail": f"no rule '{exc.args[0]}'; known rules: {', '.join(sorted(rules.rules))}"})

    @app.exception_handler(FactError)
    async def fact_error(_: Request, exc: FactError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": [{"loc": ["body", "facts", exc.field],
                                                                  "msg": exc.message, "type": "value_error"}]})

    @app.exception_handler(BadIdentifier)
    async def bad_identifier(_: Request, exc: BadIdentifier) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": [{"loc": ["path", "id"], "msg": str(exc),
                                                                  "type": "value_error"}]})

    @app.get("/ping", include_in_schema=False)
    def ping() -> dict[str, bool]:
        """The app's hello-world: the benchmarks' baseline for what the framework alone costs."""
        return {"pong": True}

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

    @app.get("/v1/rules")
    def list_rules(lang: LangQuery = None, accept_language: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        language = choose_lang(lang, accept_language)
        return {"lang": language, "rules": [rules.summary(r, language) for r in rules.rules.values()]}

    @app.get("/v1/rules/{rule_id}")
    def get_rule(rule_id: str, lang: LangQuery = None,
                 accept_language: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        return rules.describe(rule_id, choose_lang(lang, accept_language))

    @app.post("/v1/rules/{rule_id}/evaluate", response_model=None)
    async def evaluate(rule_id: str, request: Request, lang: LangQuery = None,
                       as_of: Annotated[dt.date | None, Query()] = None,
                       accept: Annotated[str | None, Header()] = None,
                       accept_language: Annotated[str | None, Header()] = None) -> Any:
        rule = rules.get_rule(rule_id)
        content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
        body = await request.body()
        if content_type in (TURTLE, JSON_LD):
            facts, graph_as_of = graph_to_facts(parse_fact_graph(body, content_type), rule)
            when = as_of or (_parse_date(graph_as_of, "as_of") if graph_as_of else dt.date.today())
        elif content_type == "application/json":
            try:
                parsed = EvaluationRequest.model_validate_json(body or b"{}")
            except ValidationError as exc:
                raise HTTPException(status_code=422, detail=[
                    {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]) from None
            facts, when = parsed.facts, (parsed.as_of or as_of or dt.date.today())
        else:
            raise HTTPException(status_code=415, detail=f"unsupported Content-Type '{content_type}': send "
                                "application/json, text/turtle or application/ld+json")
        # CPU-bound (pySHACL): off the event loop, so that other requests keep being served
        language = choose_lang(lang, accept_language)
        answer, report = await run_in_threadpool(rules.evaluate, rule_id, facts, when, language)
        if accept and TURTLE in accept and "json" not in accept.split(",")[0]:
            return Response(report.serialize(format="turtle"), media_type=TURTLE)
        return answer

    return app


def _parse_date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise HTTPException(status_code=422, detail=[{"loc": ["body", field], "type": "value_error",
                                                      "msg": f"'{value}' is not a date YYYY-MM-DD"}]) from None
