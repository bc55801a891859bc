"""HTTP routes of the rules engine: the rule catalogue, evaluation (now, or as known at a release, with what
would make it eligible), a verdict's timeline, and the answers that changed between two releases."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from rdflib import Graph

from ..common.http import AcceptLanguage, AnswerJSON, IsoDate, LangQuery, field_error, field_exception, parse_date
from ..common.languages import choose_lang
from ..common.namespaces import sparql_prologue
from ..time.known_at import Engines, KnownAt, engines_for
from ..time.release_answers import answers_diff
from ..time.releases import ReleaseStore
from ..time.timeline import TimelineError
from .compiled.engine import CompiledRules
from .counterfactuals import SearchTooLong
from .engine import EvaluationTimeout, FactError, RuleNotFound, RulesEngine
from .fact_input import JSON_LD, TURTLE, graph_to_facts, parse_fact_graph
from .models import (
    EvaluationAnswer,
    EvaluationRequest,
    ReleaseDiffAnswer,
    ReleaseDiffRequest,
    RuleDescription,
    RuleList,
    TimelineAnswer,
    TimelineRequest,
    errors,
    ok,
)

MAX_BODY_ENV, DEFAULT_MAX_BODY = "CONNECTKB_MAX_BODY_BYTES", 1_000_000
EVAL_TIMEOUT_ENV, DEFAULT_EVAL_TIMEOUT_S = "CONNECTKB_EVAL_TIMEOUT_S", 10.0
# the work a counterfactual search may do on the event loop (fact sets decided, values classified,
# combinations laid out: a few microseconds each) before it is moved to a thread: the loop then stalls
# for a few milliseconds at worst
INLINE_SEARCH_WORK = 1_000


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (BodyTooLarge) as soon as it is known to pass `limit` bytes: by its
    Content-Length before reading anything, else while it streams in, so no more than the limit (plus
    one chunk) is ever held."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def fact_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, FactError)
    return field_error(422, ["body", "facts", exc.field], exc.message)


def exception_handlers(rules: RulesEngine) -> dict[type[Exception], Any]:
    async def rule_not_found(_: Request, exc: Exception) -> Response:
        return JSONResponse(status_code=404, content={
            "detail": f"no rule '{exc.args[0]}'; known rules: {', '.join(sorted(rules.rules))}"})

    async def body_too_large(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, BodyTooLarge)
        return field_error(413, ["body"], f"the body is larger than {exc.limit} bytes; an evaluation request "
                                          "is a few hundred bytes of facts")

    return {RuleNotFound: rule_not_found, FactError: fact_error, BodyTooLarge: body_too_large}


EngineQuery = Annotated[Literal["compiled", "reference"], Query(
    description="compiled: the rules compiled at start-up (default); reference: pySHACL over the rule's shapes, "
                "the reference semantics. A rule the compiler cannot handle is always served by the reference.")]
KnownAtQuery = Annotated[str | None, Query(
    pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,40}$",
    description="a release id (GET /v1/releases): answer from that frozen release's KB and rules, as they then "
                "were; the answer names the release and the engine that answered")]
CounterfactualsQuery = Annotated[bool, Query(
    description="ineligible and undetermined answers carry the smallest changes of the facts that would make "
                "them eligible (false: leave the search out)")]


def _body_schema(model: type[BaseModel], *media: str) -> dict[str, Any]:
    """The request body as OpenAPI describes it: read by hand (bounded in size), so declared here."""
    schema = model.model_json_schema()
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    for m in media:
        content[m] = {"schema": {"type": "string"},
                      "example": "@prefix fact: <https://w3id.org/connectkb/id/fact/> ."}
    return {"requestBody": {"required": True, "content": content}}


def _parse(model: type[BaseModel], body: bytes) -> Any:
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise HTTPException(status_code=422, detail=[
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]) from None


def _timed_out(timeout_s: float) -> JSONResponse:
    return JSONResponse(status_code=503, headers={"Retry-After": "5"}, content={"detail": [{
        "loc": ["body"], "msg": f"the evaluation did not finish within {timeout_s:g} s; try again later",
        "type": "value_error"}]})


def build_router(rules: RulesEngine, compiled: CompiledRules, known: KnownAt | None = None,
                 releases: ReleaseStore | None = None) -> APIRouter:
    router = APIRouter()
    releases = releases or ReleaseStore()
    if known is None:
        current = rules.backend.select(sparql_prologue() + "SELECT ?r WHERE { kb:dataset ck:release ?r } LIMIT 1")
        release = current[0]["r"]["value"] if current else None
        known = KnownAt(releases, engines_for(rules.backend, release, None, True, rules=rules, compiled=compiled))
    known_at = known

    def named(eng: Engines, rule_id: str, engine: str) -> dict[str, Any]:
        serves, reason = eng.compiled.engine_for(rule_id)
        if engine == "reference":
            serves, reason = "reference", "asked for with engine=reference"
        return {**eng.named(), "engine": serves, "engine_reason": reason}

    @router.get("/v1/rules", response_model=None, responses=ok(RuleList))
    def list_rules(lang: LangQuery = None, accept_language: AcceptLanguage = None) -> dict[str, Any]:
        language = choose_lang(lang, accept_language)
        return {"lang": language, "rules": [rules.summary(r, language) for r in rules.rules.values()]}

    @router.get("/v1/rules/{rule_id}", response_model=None, responses={**ok(RuleDescription), **errors(404, 422)})
    def get_rule(rule_id: str, lang: LangQuery = None, accept_language: AcceptLanguage = None) -> dict[str, Any]:
        engine, reason = compiled.engine_for(rule_id)
        return {**rules.describe(rule_id, choose_lang(lang, accept_language)),
                "engine": {"serves": engine, "reason": reason}}

    max_body = int(os.environ.get(MAX_BODY_ENV, DEFAULT_MAX_BODY))
    timeout_s = float(os.environ.get(EVAL_TIMEOUT_ENV, DEFAULT_EVAL_TIMEOUT_S))

    @router.post("/v1/rules/{rule_id}/evaluate", response_model=None,
                 responses={**errors(404, 413, 415, 422, 503), **ok(EvaluationAnswer, {
                     TURTLE: {"schema": {"type": "string"},
                              "example": "[] a sh:ValidationReport ; sh:conforms false ."}})},
                 openapi_extra=_body_schema(EvaluationRequest, TURTLE, JSON_LD))
    async def evaluate(rule_id: str, request: Request, lang: LangQuery = None,
                       as_of: Annotated[IsoDate | None, Query()] = None,
                       accept: Annotated[str | None, Header()] = None,
                       accept_language: AcceptLanguage = None, engine: EngineQuery = "compiled",
                       as_known_at: KnownAtQuery = None, counterfactuals: CounterfactualsQuery = True) -> Any:
        eng = known_at.get(as_known_at)
        engine_rules, engine_compiled = eng.rules, eng.compiled
        engine_rules.get_rule(rule_id)
        content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
        if content_type not in (TURTLE, JSON_LD, "application/json"):
            raise HTTPException(status_code=415, detail=f"unsupported Content-Type '{content_type}': send "
                                "application/json, text/turtle or application/ld+json")
        body = await read_body(request, max_body)
        language = choose_lang(lang, accept_language)
        deadline = time.monotonic() + timeout_s
        wants_report = bool(accept and TURTLE in accept and "json" not in accept.split(",")[0])
        if (engine == "compiled" and not wants_report and content_type == "application/json"
                and engine_compiled.engine_for(rule_id)[0] == "compiled"):
            # table look-ups well under a millisecond on bounded input: answered on the event loop,
            # no thread hop and no lock
            facts, when = _facts_and_date(engine_rules, rule_id, body, content_type, as_of)
            answer, report = engine_compiled.evaluate(rule_id, facts, when, language), None
        else:
            def run() -> tuple[dict[str, Any], Graph | None, dict[str, Any], dt.date]:
                # parsing RDF and pySHACL are CPU-bound: off the event loop, so that other requests keep
                # being served, and under the same time limit
                facts, when = _facts_and_date(engine_rules, rule_id, body, content_type, as_of)
                if engine == "compiled" and not wants_report:
                    return engine_compiled.evaluate(rule_id, facts, when, language), None, facts, when
                return (*engine_rules.evaluate(rule_id, facts, when, language, deadline=deadline), facts, when)

            try:
                # abandon_on_cancel: past the limit the caller is answered now; the thread, already bounded
                # by the input limits, finishes on its own (or never starts pySHACL: see `deadline`)
                with anyio.fail_after(timeout_s):
                    answer, report, facts, when = await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
            except (TimeoutError, EvaluationTimeout):
                return _timed_out(timeout_s)
            if wants_report and report is not None:
                return Response(report.serialize(format="turtle"), media_type=TURTLE)
        if counterfactuals and answer["verdict"] != "eligible":
            search = eng.counterfactuals.search
            # most searches end in well under a millisecond: on the event loop, as the evaluation; one that
            # goes past INLINE_SEARCH_WORK is run again, whole, off the loop
            try:
                found = search(rule_id, facts, when, language, max_work=INLINE_SEARCH_WORK)
            except SearchTooLong:
                found = await anyio.to_thread.run_sync(search, rule_id, facts, when, language)
            answer = {**answer, "counterfactuals": found}
        if as_known_at is not None:
            answer = {**answer, "known_at": named(eng, rule_id, engine)}
        return AnswerJSON(answer)

    @router.post("/v1/rules/{rule_id}/timeline", response_model=None,
                 responses={**ok(TimelineAnswer), **errors(404, 413, 422, 503)},
                 openapi_extra=_body_schema(TimelineRequest))
    async def rule_timeline(rule_id: str, request: Request, lang: LangQuery = None,
                            accept_language: AcceptLanguage = None, as_known_at: KnownAtQuery = None) -> Any:
        """The consecutive intervals of the answer between two days, each boundary with the dated statement
        of the KB that moves it; an undetermined stretch names what the sources do not state."""
        eng = known_at.get(as_known_at)
        eng.rules.get_rule(rule_id)
        parsed = _parse(TimelineRequest, await read_body(request, max_body))
        language = choose_lang(lang, accept_language)

        def run() -> dict[str, Any]:
            return eng.timelines.timeline(rule_id, parsed.facts, parsed.from_, parsed.to, language)

        try:
            with anyio.fail_after(timeout_s):
                answer = await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
        except TimeoutError:
            return _timed_out(timeout_s)
        except TimelineError as exc:
            raise field_exception(422, ["body", exc.field], exc.message) from None
        if as_known_at is not None:
            answer["known_at"] = named(eng, rule_id, "compiled")
        return answer

    @router.post("/v1/rules/{rule_id}/release-diff", response_model=None,
                 responses={**ok(ReleaseDiffAnswer), **errors(404, 413, 422, 503)},
                 openapi_extra=_body_schema(ReleaseDiffRequest))
    async def release_diff(rule_id: str, request: Request,
                           from_: Annotated[str, Query(alias="from", pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,40}$",
                                                       description="the earlier release")],
                           to: Annotated[str, Query(pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,40}$",
                                                    description="the later release")],
                           lang: LangQuery = None, accept_language: AcceptLanguage = None) -> Any:
        """The answers that differ between two releases for one fact set (or a screening list of them),
        each with the statements of the release diff about what its differing criteria read."""
        parsed = _parse(ReleaseDiffRequest, await read_body(request, max_body))
        if (parsed.facts is None) == (parsed.fact_sets is None):
            raise field_exception(422, ["body", "facts"], "give either 'facts' (one fact set) or 'fact_sets' "
                                                          "(a list of them)")
        fact_sets = [parsed.facts] if parsed.facts is not None else list(parsed.fact_sets or [])
        language = choose_lang(lang, accept_language)
        when = parsed.as_of or dt.date.today()

        def run() -> dict[str, Any]:
            return answers_diff(known_at, releases, rule_id, fact_sets, when, from_, to, language,
                                strict=parsed.facts is not None)

        try:
            with anyio.fail_after(timeout_s * 3):  # two releases, and their diff the first time it is asked for
                return await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
        except TimeoutError:
            return _timed_out(timeout_s * 3)

    return router


def _facts_and_date(rules: RulesEngine, rule_id: str, body: bytes, content_type: str,
                    as_of: dt.date | None) -> tuple[dict[str, Any], dt.date]:
    rule = rules.get_rule(rule_id)
    if content_type in (TURTLE, JSON_LD):
        facts, graph_as_of = graph_to_facts(parse_fact_graph(body, content_type), rule)
        return facts, as_of or (parse_date(graph_as_of, ["body", "as_of"]) if graph_as_of else dt.date.today())
    try:
        parsed = EvaluationRequest.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise HTTPException(status_code=422, detail=[
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]) from None
    return parsed.facts, (parsed.as_of or as_of or dt.date.today())
