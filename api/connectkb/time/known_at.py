"""Recorded time for answers: the engines of a frozen release, built from its snapshot when first asked
for and kept (a few at a time), so that an answer can be given as the KB then stood.

A release's rules are its own Turtle: the compiled engine compiles them against the release's checks,
and a check whose SPARQL is not the text today's compiler knows leaves its rule to the reference engine
(pySHACL over the release's shapes), which then answers and says so."""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from ..common.http import field_exception
from ..engines import build_engines
from ..knowledge.entities import EntityService
from ..knowledge.stores import EmbeddedStore
from ..rules.compiled.engine import CompiledRules
from ..rules.counterfactuals import Counterfactuals
from ..rules.engine import RulesEngine
from .changes import ChangesEngine
from .releases import ReleaseStore, UnknownRelease
from .timeline import Timelines

MAX_RELEASE_ENGINES = 2  # each is a whole KB in memory (~tens of MB); the current one is not counted


@dataclass
class Engines:
    """Every engine that answers from one KB."""

    release: str | None
    issued: str | None
    entities: EntityService
    rules: RulesEngine
    compiled: CompiledRules
    timelines: Timelines
    counterfactuals: Counterfactuals
    current: bool
    _changes: ChangesEngine | None = field(default=None, repr=False)

    @property
    def changes(self) -> ChangesEngine:
        if self._changes is None:
            self._changes = ChangesEngine(self.rules.backend, self.entities)
        return self._changes

    def named(self) -> dict[str, Any]:
        """How an answer names the KB it was given from."""
        return {"release": self.release, "issued": self.issued, "current": self.current}


def engines_for(backend: Any, release: str | None, issued: str | None, current: bool,
                entities: EntityService | None = None, rules: RulesEngine | None = None,
                compiled: CompiledRules | None = None, changes: ChangesEngine | None = None) -> Engines:
    if rules is None:
        base = build_engines(backend)
        entities, rules, compiled = entities or base.entities, base.rules, base.compiled
    entities = entities or EntityService(backend)
    compiled = compiled or CompiledRules(rules)
    return Engines(release=release, issued=issued, entities=entities, rules=rules, compiled=compiled,
                   timelines=Timelines(rules, compiled), counterfactuals=Counterfactuals(rules, compiled),
                   current=current, _changes=changes)


def snapshot_store(path: Any) -> ox.Store:
    store = ox.Store()
    with gzip.open(path, "rb") as fh:
        store.bulk_load(fh, format=ox.RdfFormat.N_TRIPLES)
    return store


class KnownAt:
    """The engines of the current KB, and of any frozen release on demand (least recently used dropped)."""

    def __init__(self, releases: ReleaseStore, current: Engines, limit: int = MAX_RELEASE_ENGINES):
        self.releases, self.current, self.limit = releases, current, limit
        self._built: OrderedDict[str, Engines] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.builds = 0

    def known(self) -> list[str]:
        return self.releases.ids()

    def get(self, release: str | None, field_name: str = "as_known_at") -> Engines:
        """The engines of `release` (None or the current release: the running KB's); an unknown release
        is a 422 naming the parameter."""
        if release is None or release == self.current.release:
            return self.current
        try:
            record = self.releases.get(release, field_name)
        except UnknownRelease as exc:
            raise field_exception(422, ["query", field_name], exc.message) from None
        with self._lock:
            hit = self._built.get(release)
            if hit is not None:
                self._built.move_to_end(release)
                return hit
            lock = self._locks.setdefault(release, threading.Lock())
        with lock:  # one build per release; concurrent askers wait for it
            with self._lock:
                hit = self._built.get(release)
            if hit is not None:
                return hit
            built = engines_for(EmbeddedStore(snapshot_store(record.path)), release, record.issued, current=False)
            with self._lock:
                self.builds += 1
                self._built[release] = built
                while len(self._built) > self.limit:
                    self._built.popitem(last=False)
            return built
