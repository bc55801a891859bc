"""HTTP routes of the time engine: what changed between dates (JSON and Atom), releases and their diffs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..common.http import AcceptLanguage, LangQuery, field_error, pagination_links
from ..common.ids import BadIdentifier, to_iri
from ..common.languages import choose_lang
from ..knowledge.entities import EntityService
from .changes import KINDS, BadPeriod, ChangesEngine, parse_window
from .feed import atom_feed
from .known_at import KnownAt
from .releases import ReleaseStore, UnknownRelease
from .schemas import ChangeList, ReleaseList

ChangeQuery = Annotated[str | None, Query()]
KnownAtQuery = Annotated[str | None, Query(pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,40}$",
                                           description="a release id: the changes as that frozen release records them")]


async def unknown_release(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, UnknownRelease)
    return field_error(404, ["path", exc.field], exc.message)


async def bad_period(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadPeriod)
    return field_error(422, ["query", exc.field], exc.message)


EXCEPTION_HANDLERS = {UnknownRelease: unknown_release, BadPeriod: bad_period}


def build_router(changes: ChangesEngine, entities: EntityService, releases: ReleaseStore,
                 release: str | None, known: KnownAt | None = None) -> APIRouter:
    router = APIRouter()
    current_changes, current_entities = changes, entities

    def select(start: str | None, end: str | None, kind: str | None, measure: str | None, type_: str | None,
               topic: str | None, language: str,
               as_known_at: str | None = None) -> tuple[dt.date, dt.date, list[dict[str, Any]]]:
        changes, entities = current_changes, current_entities
        if as_known_at is not None:  # the changes as that release recorded them
            if known is None:
                raise BadPeriod("as_known_at", "this service answers from its current KB only")
            engines = known.get(as_known_at)
            changes, entities = engines.changes, engines.entities
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

    @router.get("/v1/changes", response_model=ChangeList, response_model_exclude_unset=True,
                summary="Every change between two dates (from < date <= to)")
    def list_changes(
        request: Request, response: Response,
        from_: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD; changes after this day")] = None,
        to: Annotated[str | None, Query(description="YYYY-MM-DD; changes up to and including this day")] = None,
        kind: ChangeQuery = None, measure: ChangeQuery = None, type: ChangeQuery = None, topic: ChangeQuery = None,
        lang: LangQuery = None, accept_language: AcceptLanguage = None, as_known_at: KnownAtQuery = None,
        limit: Annotated[int | None, Query(ge=1, le=1000, description="at most this many changes (default: all); "
                                                                      "the Link header names the next page")] = None,
        offset: Annotated[int, Query(ge=0, description="skip this many changes first")] = 0,
    ) -> dict[str, Any]:
        language = choose_lang(lang, accept_language)
        first, last, items = select(from_, to, kind, measure, type, topic, language, as_known_at)
        total = len(items)
        if limit is not None or offset:
            page = limit or max(total - offset, 1)
            items = items[offset:offset + page]
            if link := pagination_links(request.url, total, page, offset):
                response.headers["Link"] = link
        answer = {"from": first.isoformat(), "to": last.isoformat(), "lang": language, "total": total,
                  "changes": items}
        if as_known_at is not None and known is not None:
            answer["known_at"] = known.get(as_known_at).named()
        return answer

    @router.get("/v1/changes.atom", response_class=Response, summary="The changes as an Atom feed",
                responses={200: {"content": {"application/atom+xml": {}}, "description": "an Atom 1.0 feed"}})
    def changes_feed(
        request: Request,
        from_: Annotated[str | None, Query(alias="from")] = None, to: Annotated[str | None, Query()] = None,
        kind: ChangeQuery = None, measure: ChangeQuery = None, type: ChangeQuery = None, topic: ChangeQuery = None,
        lang: LangQuery = None, accept_language: AcceptLanguage = None, as_known_at: KnownAtQuery = None,
    ) -> Response:
        language = choose_lang(lang, accept_language)
        *_, items = select(from_ or "1900-01-01", to or dt.date.today().isoformat(), kind, measure, type,
                           topic, language, as_known_at)
        return Response(atom_feed(str(request.url), items, release, language), media_type="application/atom+xml")

    @router.get("/v1/releases", response_model=ReleaseList, summary="The KB's published releases")
    def list_releases() -> dict[str, Any]:
        return {"current": release, "releases": releases.listing(release)}

    @router.get("/v1/releases/{a}/diff/{b}", response_class=Response,
                responses={200: {"content": {"application/json": {}}}})
    def diff_releases(a: str, b: str, lang: LangQuery = None, accept_language: AcceptLanguage = None) -> Response:
        # served as bytes encoded once per (pair, language): re-encoding a large diff costs ~0.5 s
        return Response(releases.diff_json(a, b, choose_lang(lang, accept_language)), media_type="application/json")

    return router
