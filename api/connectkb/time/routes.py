"""HTTP routes of the time engine: what changed between dates (JSON and Atom), releases and their diffs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..common.http import AcceptLanguage, LangQuery, field_error
from ..common.ids import BadIdentifier, to_iri
from ..common.languages import choose_lang
from ..knowledge.entities import EntityService
from .changes import KINDS, BadPeriod, ChangesEngine, parse_window
from .feed import atom_feed
from .releases import ReleaseStore, UnknownRelease

ChangeQuery = Annotated[str | None, Query()]


async def unknown_release(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, UnknownRelease)
    return field_error(404, ["path", exc.field], exc.message)


async def bad_period(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadPeriod)
    return field_error(422, ["query", exc.field], exc.message)


EXCEPTION_HANDLERS = {UnknownRelease: unknown_release, BadPeriod: bad_period}


def build_router(changes: ChangesEngine, entities: EntityService, releases: ReleaseStore,
                 release: str | None) -> APIRouter:
    router = APIRouter()

    def select(start: str | None, end: str | None, kind: str | None, measure: str | None, type_: str | None,
               topic: str | None, language: str) -> tuple[dt.date, dt.date, list[dict[str, Any]]]:
        first, last = parse_window(start, end)
        if kind and kind not in KINDS:
            raise BadPeriod("kind", f"'kind' must be one of: {', '.join(KINDS)}")
        if type_ and not entities.type_matches(type_):
            raise BadPeriod("type", f"unknown type '{type_}': expected a class of the KB such as PolicyMeasure")
        try:
            measure_iri = to_iri(measure) if measure else None
        except BadIdentifier as exc:
            raise BadPeriod("measure", str(exc)) from None
        if measure_iri and entities.get(measure, language) is None:
            raise BadPeriod("measure", f"no entity '{measure}' in the knowledge base")
        return first, last, changes.between(first, last, kind=kind, measure=measure_iri, type_=type_,
                                            topic=topic, lang=language)

    @router.get("/v1/changes")
    def list_changes(
        from_: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD; changes after this day")] = None,
        to: Annotated[str | None, Query(description="YYYY-MM-DD; changes up to and including this day")] = None,
        kind: ChangeQuery = None, measure: ChangeQuery = None, type: ChangeQuery = None, topic: ChangeQuery = None,
        lang: LangQuery = None, accept_language: AcceptLanguage = None,
    ) -> dict[str, Any]:
        language = choose_lang(lang, accept_language)
        first, last, items = select(from_, to, kind, measure, type, topic, language)
        return {"from": first.isoformat(), "to": last.isoformat(), "lang": language, "changes": items}

    @router.get("/v1/changes.atom")
    def changes_feed(
        request: Request,
        from_: Annotated[str | None, Query(alias="from")] = None, to: Annotated[str | None, Query()] = None,
        kind: ChangeQuery = None, measure: ChangeQuery = None, type: ChangeQuery = None, topic: ChangeQuery = None,
        lang: LangQuery = None, accept_language: AcceptLanguage = None,
    ) -> Response:
        language = choose_lang(lang, accept_language)
        *_, items = select(from_ or "1900-01-01", to or dt.date.today().isoformat(), kind, measure, type,
                           topic, language)
        return Response(atom_feed(str(request.url), items, release, language), media_type="application/atom+xml")

    @router.get("/v1/releases")
    def list_releases() -> dict[str, Any]:
        return {"current": release, "releases": releases.listing(release)}

    @router.get("/v1/releases/{a}/diff/{b}", response_class=Response,
                responses={200: {"content": {"application/json": {}}}})
    def diff_releases(a: str, b: str, lang: LangQuery = None, accept_language: AcceptLanguage = None) -> Response:
        # served as bytes encoded once per (pair, language): re-encoding a large diff costs ~0.5 s
        return Response(releases.diff_json(a, b, choose_lang(lang, accept_language)), media_type="application/json")

    return router
