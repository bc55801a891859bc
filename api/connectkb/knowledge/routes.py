"""HTTP routes of the knowledge engine: health and entity look-up."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, HTTPException, Query, Request, Response

from ..common.http import AcceptLanguage, IsoDate, LangQuery, field_exception, pagination_links
from ..common.ids import BadIdentifier, to_iri
from ..common.languages import choose_lang
from .entities import EntityService
from .load import LoadedKB
from .schemas import Entity, EntityList, Health


class AsOfLookup(Protocol):
    """The time engine's as-of view, as the entity routes use it."""

    def status(self, iri: str, day: dt.date) -> Any: ...

    def holders(self, role_iri: str, day: dt.date) -> list[tuple[str, str, Any]]: ...

    def annotate_roles(self, roles: list[dict[str, Any]], day: dt.date) -> list[dict[str, Any]]: ...


def build_router(kb: LoadedKB, entities: EntityService, as_of_view: AsOfLookup) -> APIRouter:
    router = APIRouter()

    @router.get("/ping", include_in_schema=False)
    def ping() -> dict[str, bool]:
        """The app's hello-world: the benchmarks' baseline for what the framework alone costs."""
        return {"pong": True}

    @router.get("/health", response_model=Health, summary="Is the KB loaded, valid and which release")
    def health() -> dict[str, Any]:
        return {"status": "ok", "triples": kb.triple_count, "release": kb.release,
                "conforms": kb.report.ok, "quotes_checked": kb.report.quotes_checked or 0,
                "quote_check": "checked against the seed documents" if kb.report.quotes_checked is not None
                else "not checked: the seed documents are not at hand (set CONNECTKB_SEEDS_DIR)",
                "load_seconds": round(kb.timings.get("total_s", 0.0), 3)}

    @router.get("/v1/entities", response_model=EntityList, response_model_exclude_unset=True,
                summary="Search entities by type, text, role holders on a day")
    def list_entities(
        request: Request, response: Response,
        type: Annotated[str | None, Query(description="class local name, CURIE or IRI, e.g. CommercialBank")] = None,
        q: Annotated[str | None, Query(min_length=1, max_length=200,
                                       description="text in a label, name or code")] = None,
        lang: LangQuery = None,
        role: Annotated[str | None, Query(description="an org:Role id, e.g. role-agent-witness-bank: only its "
                                                      "holders on the as-of date")] = None,
        as_of: Annotated[IsoDate | None, Query(description="the state on this day (YYYY-MM-DD)")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
        accept_language: AcceptLanguage = None,
    ) -> dict[str, Any]:
        language = choose_lang(lang, accept_language)
        if type and not entities.type_matches(type):
            raise field_exception(422, ["query", "type"],
                                  f"unknown type '{type}': expected a class of the KB such as CommercialBank, "
                                  "PolicyMeasure, LiquidityFacility, Statistic or RoleAssignment")
        _, items = entities.search(type, q, language, limit=100_000, offset=0)
        body: dict[str, Any] = {"lang": language}
        if role or as_of:
            day = as_of or dt.date.today()
            body["as_of"] = day.isoformat()
            if role:
                try:
                    role_iri = to_iri(role)
                except BadIdentifier as exc:
                    raise field_exception(422, ["query", "role"], str(exc)) from None
                if "org:Role" not in set(entities.summary(role_iri, language)["types"]):
                    raise field_exception(422, ["query", "role"],
                                          f"unknown role '{role}': expected an org:Role id such as "
                                          "role-agent-witness-bank, role-primary-liquidity-provider or "
                                          "role-offshore-rmb-repo-market-maker")
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
        if link := pagination_links(request.url, len(items), limit, offset):
            response.headers["Link"] = link
        return {**body, "total": len(items), "limit": limit, "offset": offset, "items": items[offset:offset + limit]}

    @router.get("/v1/entities/{entity_id:path}", response_model=Entity, response_model_exclude_unset=True,
                summary="One entity: labels, facts, citations, roles over time")
    def get_entity(
        entity_id: str,
        lang: LangQuery = None,
        as_of: Annotated[IsoDate | None, Query(description="roles and terms in force on this day")] = None,
        accept_language: AcceptLanguage = None,
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

    return router
