"""HTTP route of index weights: `POST /v1/indices/{id}/weights`, the bonds as JSON
`{"bonds": [{"id", "facts"}], "as_of"}`, CSV, JSON Lines or Parquet (as screening reads them)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from ..common.http import AcceptLanguage, IsoDate, LangQuery, field_exception
from ..common.languages import choose_lang
from ..rules.compiled.engine import CompiledRules
from ..rules.engine import RulesEngine
from ..screening.readers import BodyParser, InputError, Row, format_for_content_type
from .service import Bond, BondsError, UnknownIndex, WeightsService

MAX_BODY_ENV, DEFAULT_MAX_BODY = "CONNECTKB_WEIGHTS_MAX_BODY_BYTES", 50_000_000
MAX_BONDS_ENV, DEFAULT_MAX_BONDS = "CONNECTKB_WEIGHTS_MAX_BONDS", 100_000
TIMEOUT_ENV, DEFAULT_TIMEOUT_S = "CONNECTKB_WEIGHTS_TIMEOUT_S", 60.0


class BondIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    facts: dict[str, Any]


class WeightsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bonds: list[BondIn]
    as_of: IsoDate | None = None


def _too_large(what: str) -> JSONResponse:
    return JSONResponse(status_code=413, content={"detail": [{"loc": ["body"], "msg": what, "type": "value_error"}]})


def bonds_from_rows(rows: list[Row]) -> list[Bond]:
    """Rows of a CSV or JSON Lines universe as bonds; a bad row refuses the whole request, since every
    weight depends on every bond."""
    bonds = []
    for row in rows:
        if row.error is not None:
            raise BondsError([f"row {row.number}", row.error.field], f"bond '{row.id}': {row.error.message}")
        bonds.append(Bond(row.id, row.facts or {}))
    return bonds


def build_router(rules: RulesEngine, compiled: CompiledRules) -> APIRouter:
    service = WeightsService(rules, compiled)
    router = APIRouter()
    max_body = int(os.environ.get(MAX_BODY_ENV, DEFAULT_MAX_BODY))
    max_bonds = int(os.environ.get(MAX_BONDS_ENV, DEFAULT_MAX_BONDS))
    timeout_s = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    fact_types = rules.input_facts

    @router.post("/v1/indices/{index_id}/weights", response_model=None)
    async def weights(index_id: str, request: Request, lang: LangQuery = None,
                      as_of: Annotated[IsoDate | None, Query()] = None,
                      accept_language: AcceptLanguage = None) -> Any:
        """The weights of the eligible bonds under the index's weighting rule as the KB records it: `status`
        weighted (they sum to one), incomplete (they do not, `why_not` says why), undetermined (a fact, an
        eligibility or a reading is missing) or not-stated (the source gives no weighting rule)."""
        try:
            service.methodology(index_id)
        except UnknownIndex:
            raise HTTPException(status_code=404, detail=f"no index '{index_id}'; known indices: "
                                                        f"{', '.join(service.index_ids())}") from None
        content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
        declared = request.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > max_body:
            return _too_large(f"the body is larger than {max_body} bytes")
        size = 0
        if content_type == "application/json":
            chunks = []
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_body:
                    return _too_large(f"the body is larger than {max_body} bytes")
                chunks.append(chunk)
            try:
                parsed = WeightsRequest.model_validate_json(b"".join(chunks) or b"{}")
            except ValidationError as exc:
                raise HTTPException(status_code=422, detail=[
                    {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]) from None
            bonds = [Bond(b.id, b.facts) for b in parsed.bonds]
            when = parsed.as_of or as_of or dt.date.today()
        else:
            try:
                fmt = format_for_content_type(content_type)
                parser = BodyParser(fact_types, fmt)
                rows: list[Row] = []
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > max_body:
                        return _too_large(f"the body is larger than {max_body} bytes")
                    rows.extend(parser.feed(chunk))
                    if len(rows) > max_bonds:
                        break
                rows.extend(parser.close())
            except InputError as exc:
                status = 415 if exc.field == "Content-Type" else 422
                raise field_exception(status, ["body", exc.field], exc.message) from None
            try:
                bonds = bonds_from_rows(rows)
            except BondsError as exc:
                raise field_exception(422, ["body", *exc.loc], exc.message) from None
            when = as_of or dt.date.today()
        if len(bonds) > max_bonds:
            return _too_large(f"more than {max_bonds} bonds; weigh at most {max_bonds} at a time")
        language = choose_lang(lang, accept_language)

        def run() -> dict[str, Any]:
            return service.weigh(index_id, bonds, when, language)

        try:
            with anyio.fail_after(timeout_s):
                return await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
        except BondsError as exc:
            raise field_exception(422, ["body", *exc.loc], exc.message) from None
        except TimeoutError:
            return JSONResponse(status_code=503, headers={"Retry-After": "5"}, content={"detail": [{
                "loc": ["body"], "msg": f"the weights did not finish within {timeout_s:g} s; send fewer bonds "
                                        "or try again later", "type": "value_error"}]})

    return router
