"""HTTP routes of the rules engine: the rule catalogue and evaluation."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError
from rdflib import Graph

from ..common.http import AcceptLanguage, IsoDate, LangQuery, field_error, parse_date
from ..common.languages import choose_lang
from .compiled.engine import CompiledRules
from .engine import EvaluationTimeout, FactError, RuleNotFound, RulesEngine
from .fact_input import JSON_LD, TURTLE, graph_to_facts, parse_fact_graph

MAX_BODY_ENV, DEFAULT_MAX_BODY = "CONNECTKB_MAX_BODY_BYTES", 1_000_000
EVAL_TIMEOUT_ENV, DEFAULT_EVAL_TIMEOUT_S = "CONNECTKB_EVAL_TIMEOUT_S", 10.0


class EvaluationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    facts: dict[str, Any]
    as_of: IsoDate | None = None


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


def build_router(rules: RulesEngine, compiled: CompiledRules) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/rules")
    def list_rules(lang: LangQuery = None, accept_language: AcceptLanguage = None) -> dict[str, Any]:
        language = choose_lang(lang, accept_language)
        return {"lang": language, "rules": [rules.summary(r, language) for r in rules.rules.values()]}

    @router.get("/v1/rules/{rule_id}")
    def get_rule(rule_id: str, lang: LangQuery = None, accept_language: AcceptLanguage = None) -> dict[str, Any]:
        engine, reason = compiled.engine_for(rule_id)
        return {**rules.describe(rule_id, choose_lang(lang, accept_language)),
                "engine": {"serves": engine, "reason": reason}}

    max_body = int(os.environ.get(MAX_BODY_ENV, DEFAULT_MAX_BODY))
    timeout_s = float(os.environ.get(EVAL_TIMEOUT_ENV, DEFAULT_EVAL_TIMEOUT_S))

    @router.post("/v1/rules/{rule_id}/evaluate", response_model=None)
    async def evaluate(rule_id: str, request: Request, lang: LangQuery = None,
                       as_of: Annotated[IsoDate | None, Query()] = None,
                       accept: Annotated[str | None, Header()] = None,
                       accept_language: AcceptLanguage = None, engine: EngineQuery = "compiled") -> Any:
        rules.get_rule(rule_id)
        content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
        if content_type not in (TURTLE, JSON_LD, "application/json"):
            raise HTTPException(status_code=415, detail=f"unsupported Content-Type '{content_type}': send "
                                "application/json, text/turtle or application/ld+json")
        body = await read_body(request, max_body)
        language = choose_lang(lang, accept_language)
        deadline = time.monotonic() + timeout_s
        wants_report = bool(accept and TURTLE in accept and "json" not in accept.split(",")[0])
        if (engine == "compiled" and not wants_report and content_type == "application/json"
                and compiled.engine_for(rule_id)[0] == "compiled"):
            # table look-ups well under a millisecond on bounded input: answered on the event loop,
            # no thread hop and no lock
            facts, when = _facts_and_date(rules, rule_id, body, content_type, as_of)
            return compiled.evaluate(rule_id, facts, when, language)

        def run() -> tuple[dict[str, Any], Graph | None]:
            # parsing RDF and pySHACL are CPU-bound: off the event loop, so that other requests keep
            # being served, and under the same time limit
            facts, when = _facts_and_date(rules, rule_id, body, content_type, as_of)
            if engine == "compiled" and not wants_report:
                return compiled.evaluate(rule_id, facts, when, language), None
            return rules.evaluate(rule_id, facts, when, language, deadline=deadline)

        try:
            # abandon_on_cancel: past the limit the caller is answered now; the thread, already bounded
            # by the input limits, finishes on its own (or never starts pySHACL: see `deadline`)
            with anyio.fail_after(timeout_s):
                answer, report = await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
        except (TimeoutError, EvaluationTimeout):
            return JSONResponse(status_code=503, headers={"Retry-After": "5"}, content={"detail": [{
                "loc": ["body"], "msg": f"the evaluation did not finish within {timeout_s:g} s; try again later",
                "type": "value_error"}]})
        if wants_report and report is not None:
            return Response(report.serialize(format="turtle"), media_type=TURTLE)
        return answer

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
