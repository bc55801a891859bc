"""The rules engines over one loaded KB, built the one way the service and every CLI verb build them."""

from __future__ import annotations

from dataclasses import dataclass

from .common.backend import SparqlBackend
from .knowledge.entities import EntityService
from .knowledge.load import LoadedKB, load
from .rules.compiled.engine import CompiledRules
from .rules.engine import RulesEngine


@dataclass
class Engines:
    entities: EntityService
    rules: RulesEngine
    compiled: CompiledRules

    def warm(self) -> None:
        """Build now what is otherwise built on first use, so that forked workers share it and no first
        request waits for it."""
        self.entities.type_matches("")


def build_engines(backend: SparqlBackend) -> Engines:
    """Compile every rule (RuleChecksInvalid if one does not); pySHACL stays reachable as `rules`."""
    entities = EntityService(backend)
    rules = RulesEngine(backend, entities.citations, entities.label_of)
    return Engines(entities, rules, CompiledRules(rules))


def load_engines() -> tuple[LoadedKB, Engines]:
    """Load (and validate) the KB and build its engines: what a command line verb does first. KBInvalid
    where the KB does not conform."""
    kb = load()
    return kb, build_engines(kb.backend)
