"""The HTTP API: a thin FastAPI layer that assembles the engines' routers over one loaded KB.

Data flows one way: Turtle → validated store (knowledge) → engines (rules, time, sparql, linked data)
→ these routes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from . import __version__
from .common.caching import CachingMiddleware, HeadAsGet, VersionHeader
from .common.docs_ui import install_docs
from .common.http import field_error
from .common.ids import BadIdentifier
from .common.problems import EXCEPTION_HANDLERS as PROBLEM_HANDLERS
from .common.problems import PROBLEM_RESPONSES, ProblemNormaliser
from .engines import Engines, build_engines
from .knowledge import routes as knowledge_routes
from .knowledge.load import LoadedKB, load
from .linked_data import routes as linked_data_routes
from .linked_data.describe import dump_maker
from .rules import routes as rules_routes
from .screening import routes as screening_routes
from .sparql import protocol as sparql_routes
from .sparql.service import sparql_service
from .time import routes as time_routes
from .time.asof import AsOfView
from .time.changes import ChangesEngine
from .time.known_at import KnownAt, engines_for
from .time.releases import ReleaseStore
from .weights import routes as weights_routes


async def bad_identifier(_: Request, exc: Exception) -> Response:
    return field_error(422, ["path", "id"], str(exc))


def _issued(releases: ReleaseStore, release: str | None) -> dt.date | None:
    """The current release's issue date: when the KB's answers last changed (a working KB not yet frozen has none)."""
    record = releases.releases.get(release or "")
    try:
        return dt.date.fromisoformat(record.issued[:10]) if record else None
    except ValueError:
        return None


def create_app(kb: LoadedKB | None = None, sparql_timeout_s: float | None = None,
               engines: Engines | None = None) -> FastAPI:
    """Build the app on a loaded KB; with none given, load (and validate) the KB now or refuse. `engines`
    built over that KB before (by a parent process that forks workers) are used as they are."""
    kb = kb or load()
    engines = engines or build_engines(kb.backend)
    entities, rules, compiled = engines.entities, engines.rules, engines.compiled
    changes = ChangesEngine(kb.backend, entities)
    releases = ReleaseStore()
    issued = _issued(releases, kb.release)
    sparql = sparql_service(kb, sparql_timeout_s, modified=issued.isoformat() if issued else None)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        sparql.close()

    app = FastAPI(title="connectkb", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  responses=PROBLEM_RESPONSES,
                  description="Hong Kong–mainland financial connectivity policy and the offshore RMB market, "
                              "as cited RDF.")
    app.state.kb, app.state.entities, app.state.rules, app.state.changes = kb, entities, rules, changes
    app.state.compiled = compiled
    # outermost last: CORS, HEAD as GET, gzip, the version stamp, caching, then legacy error bodies
    app.add_middleware(ProblemNormaliser)
    app.add_middleware(CachingMiddleware, release_date=issued)
    app.add_middleware(VersionHeader, software=__version__, release=kb.release)
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.add_middleware(HeadAsGet)
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
                       allow_headers=["*"], max_age=3600,
                       expose_headers=["ETag", "Last-Modified", "Link", "Connectkb-Version"])
    install_docs(app)
    handlers = {**PROBLEM_HANDLERS, BadIdentifier: bad_identifier, **time_routes.EXCEPTION_HANDLERS,
                **rules_routes.exception_handlers(rules)}
    for exception, handler in handlers.items():
        app.add_exception_handler(exception, handler)
    app.include_router(knowledge_routes.build_router(kb, entities, AsOfView(kb.backend)))
    current = releases.releases.get(kb.release or "")
    known = KnownAt(releases, engines_for(kb.backend, kb.release, current.issued if current else None, True,
                                          entities, rules, compiled, changes))
    app.state.known_at = known
    app.include_router(rules_routes.build_router(rules, compiled, known, releases))
    app.include_router(screening_routes.build_router(rules, compiled))
    app.include_router(weights_routes.build_router(rules, compiled))
    app.include_router(time_routes.build_router(changes, entities, releases, kb.release, known))
    app.include_router(sparql_routes.build_router(sparql))
    app.include_router(linked_data_routes.build_router(kb.backend, entities, kb.release, dump_maker(kb.backend)))
    app.mount("/web", StaticFiles(directory=linked_data_routes.WEB_DIR), name="web")
    return app
