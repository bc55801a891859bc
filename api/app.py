"""The HTTP API: a thin FastAPI layer over the engines."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, ValidationError

from . import __version__
from .asof import AsOfView
from .changes import KINDS, BadPeriod, ChangesEngine, parse_window
from .entities import BadIdentifier, EntityService, normalise_lang, to_iri
from .fact_input import JSON_LD, TURTLE, graph_to_facts, parse_fact_graph
from .feed import atom_feed
from .html_pages import render_entity
from .knowledge import LoadedKB, load
from .linked_data import build_router as linked_data_router
from .linked_data import dump_maker
from .releases import ReleaseStore, UnknownRelease
from .rules import FactError, RuleNotFound, RulesEngine
from .sparql_pool import QueryFailed, QueryPool, QueryRequest
from .sparql_protocol import SparqlService, allowed_graphs, build_router
from .store import RemoteStore, RemoteStoreError, RemoteTimeout

WEB_DIR = Path(__file__).resolve().parent / "web"
LangQuery = Annotated[str | None, Query(pattern="^(en|zh)(-[A-Za-z]+)?$")]
ChangeQuery = Annotated[str | None, Query()]


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


def create_app(kb: LoadedKB | None = None, sparql_timeout_s: float | None = None) -> FastAPI:
    """Build the app on a loaded KB; with none given, load (and validate) the KB now or refuse."""
    kb = kb or load()
    entities = EntityService(kb.backend)
    rules = RulesEngine(kb.backend, entities.citations, entities.label_of)
    changes = ChangesEngine(kb.backend, entities)
    releases = ReleaseStore()
    as_of_view = AsOfView(kb.backend)
    sparql = _sparql_service(kb, sparql_timeout_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        sparql.close()

    app = FastAPI(title="connectkb", version=__version__, lifespan=lifespan,
                  description="Hong Kong–mainland financial connectivity policy and the offshore RMB market, "
                              "as cited RDF.")
    app.state.kb = kb
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "OPTIONS"],
                       allow_headers=["*"], max_age=3600)
    app.include_router(build_router(sparql))
    app.include_router(linked_data_router(kb.backend, entities, render_entity, kb.release, dump_maker(kb.backend)))
    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")

    @app.get("/", include_in_schema=False)
    def home() -> FileResponse:
        """The web page: browse, eligibility, timeline."""
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")
    app.state.entities = entities
    app.state.rules = rules
    app.state.changes = changes

    @app.exception_handler(UnknownRelease)
    async def unknown_release(_: Request, exc: UnknownRelease) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": [{"loc": ["path", exc.field], "msg": exc.message,
                                                                  "type": "value_error"}]})

    @app.exception_handler(BadPeriod)
    async def bad_period(_: Request, exc: BadPeriod) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": [{"loc": ["query", exc.field], "msg": exc.message,
                                                                  "type": "value_error"}]})

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
        role: Annotated[str | None, Query(description="an org:Role id, e.g. role-agent-witness-bank: only its "
                                                      "holders on the as-of date")] = None,
        as_of: Annotated[dt.date | None, Query(description="the state on this day (YYYY-MM-DD)")] = None,
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
        _, items = entities.search(type, q, language, limit=100_000, offset=0)
        body: dict[str, Any] = {"lang": language}
        if role or as_of:
            day = as_of or dt.date.today()
            body["as_of"] = day.isoformat()
            if role:
                role_iri = to_iri(role)
                if "org:Role" not in {t for t in entities.summary(role_iri, language)["types"]}:
                    raise HTTPException(status_code=422, detail=[{
                        "loc": ["query", "role"], "type": "value_error",
                        "msg": f"unknown role '{role}': expected an org:Role id such as role-agent-witness-bank, "
                               "role-primary-liquidity-provider or role-offshore-rmb-repo-market-maker"}])
                holding = {member: status for member, _, status in as_of_view.holders(role_iri, day)}
                items = [{**i, "role_status": holding[i["iri"]].as_json()} for i in items if i["iri"] in holding]
                body["role"] = role
            else:
                kept = []
                for item in items:
                    status = as_of_view.status(item["iri"], day)
                    if status is None or status.holds:
                        kept.append({**item, "status": status.as_json()} if status else item)
                items = kept
        return {**body, "total": len(items), "limit": limit, "offset": offset, "items": items[offset:offset + limit]}

    @app.get("/v1/entities/{entity_id:path}")
    def get_entity(
        entity_id: str,
        lang: Annotated[str | None, Query(pattern="^(en|zh)(-[A-Za-z]+)?$")] = None,
        as_of: Annotated[dt.date | None, Query(description="roles and terms in force on this day")] = None,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        entity = entities.get(entity_id, choose_lang(lang, accept_language))
        if entity is None:
            raise HTTPException(status_code=404, detail=f"no entity '{entity_id}' in the knowledge base; "
                                "search with GET /v1/entities?q=…")
        if as_of:
            status = as_of_view.status(entity["iri"], as_of)
            entity["as_of"] = as_of.isoformat()
            entity["status"] = status.as_json() if status else None
            entity["roles"] = as_of_view.annotate_roles(entity["roles"], as_of)
            # terms (amounts, quotas) that are dated and not in force that day drop out
            entity["facts"] = [f for f in entity["facts"] if not (
                isinstance(f["value"], dict) and "iri" in f["value"]
                and (st := as_of_view.status(f["value"]["iri"], as_of)) is not None and not st.holds)]
        return entity

    def _changes(start: str | None, end: str | None, kind: str | None, measure: str | None,
                 type_: str | None, topic: str | None, language: str) -> tuple[dt.date, dt.date, list[dict[str, Any]]]:
        first, last = parse_window(start, end)
        if kind and kind not in KINDS:
            raise BadPeriod("kind", f"'kind' must be one of: {', '.join(KINDS)}")
        if type_ and not entities.type_matches(type_):
            raise BadPeriod("type", f"unknown type '{type_}': expected a class of the KB such as PolicyMeasure")
        measure_iri = to_iri(measure) if measure else None
        if measure_iri and entities.get(measure, language) is None:
            raise BadPeriod("measure", f"no entity '{measure}' in the knowledge base")
        return first, last, changes.between(first, last, kind=kind, measure=measure_iri, type_=type_,
                                            topic=topic, lang=language)

    @app.get("/v1/changes")
    def list_changes(
        from_: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD; changes after this day")] = None,
        to: Annotated[str | None, Query(description="YYYY-MM-DD; changes up to and including this day")] = None,
        kind: ChangeQuery = None, measure: ChangeQuery = None, type: ChangeQuery = None, topic: ChangeQuery = None,
        lang: LangQuery = None, accept_language: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        language = choose_lang(lang, accept_language)
        first, last, items = _changes(from_, to, kind, measure, type, topic, language)
        return {"from": first.isoformat(), "to": last.isoformat(), "lang": language, "changes": items}

    @app.get("/v1/changes.atom")
    def changes_feed(
        request: Request,
        from_: Annotated[str | None, Query(alias="from")] = None, to: Annotated[str | None, Query()] = None,
        kind: ChangeQuery = None, measure: ChangeQuery = None, type: ChangeQuery = None, topic: ChangeQuery = None,
        lang: LangQuery = None, accept_language: Annotated[str | None, Header()] = None,
    ) -> Response:
        language = choose_lang(lang, accept_language)
        *_, items = _changes(from_ or "1900-01-01", to or dt.date.today().isoformat(), kind, measure, type,
                             topic, language)
        return Response(atom_feed(str(request.url), items, kb.release, language), media_type="application/atom+xml")

    @app.get("/v1/releases")
    def list_releases() -> dict[str, Any]:
        return {"current": kb.release, "releases": releases.listing(kb.release)}

    @app.get("/v1/releases/{a}/diff/{b}")
    def diff_releases(a: str, b: str, lang: LangQuery = None,
                      accept_language: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        return releases.diff(a, b, choose_lang(lang, accept_language))

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


def _sparql_service(kb: LoadedKB, timeout_s: float | None) -> SparqlService:
    timeout = timeout_s or float(os.environ.get("CONNECTKB_SPARQL_TIMEOUT_S", "10"))
    max_rows = int(os.environ.get("CONNECTKB_SPARQL_MAX_ROWS", "10000"))
    max_bytes = int(os.environ.get("CONNECTKB_SPARQL_MAX_BYTES", "20000000"))
    backend = kb.backend
    if isinstance(backend, RemoteStore):
        # the external server runs the (guarded) query; its own --timeout-s stops runaways there
        graphs = {r["g"]["value"] for r in backend.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")}

        def forward(request: QueryRequest) -> bytes:
            try:
                body = backend.forward(request.text, request.media_type, request.default_graphs,
                                       request.named_graphs, timeout_s=timeout)
            except RemoteTimeout as exc:
                raise QueryFailed(503, str(exc)) from None
            except RemoteStoreError as exc:
                raise QueryFailed(502, str(exc)) from None
            if len(body) > max_bytes:
                raise QueryFailed(400, f"the result is larger than {max_bytes} bytes, this endpoint's cap")
            return body

        return SparqlService(forward, lambda: graphs, kb.triple_count, kb.release, max_rows, max_bytes)
    store = backend.store
    pool = QueryPool(store, workers=int(os.environ.get("CONNECTKB_SPARQL_WORKERS", "2")), timeout_s=timeout)
    service = SparqlService(pool.run, allowed_graphs(store), kb.triple_count, kb.release, max_rows, max_bytes,
                            close=pool.close)
    return service


def _parse_date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise HTTPException(status_code=422, detail=[{"loc": ["body", field], "type": "value_error",
                                                      "msg": f"'{value}' is not a date YYYY-MM-DD"}]) from None
