"""Walks the checklist of the sources' facts and finds each one in the KB through SPARQL."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
import yaml

from connectkb.common.namespaces import sparql_prologue
from connectkb.knowledge.load import LoadedKB
from connectkb.knowledge.stores import EmbeddedStore

CHECKLIST_DIR = Path(__file__).parent / "checklist"
SOURCES = {"seed-000", "seed-002", "seed-003", "beyond"}


def _entries() -> list[dict[str, Any]]:
    entries = []
    for path in sorted(CHECKLIST_DIR.glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            entries.append({**entry, "file": path.name})
    return entries


ENTRIES = _entries()


def test_the_checklist_covers_the_three_seeds_and_the_later_sources() -> None:
    per_source = Counter(e["source"] for e in ENTRIES)
    assert set(per_source) == SOURCES, per_source
    assert sum(per_source[s] for s in ("seed-000", "seed-002", "seed-003")) >= 150, per_source
    ids = Counter(e["id"] for e in ENTRIES)
    assert [i for i, n in ids.items() if n > 1] == []


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_the_fact_is_in_the_kb(kb: LoadedKB, entry: dict[str, Any]) -> None:
    assert kb.backend.ask(sparql_prologue() + entry["ask"]), f"{entry['file']}: {entry['fact']}"


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_the_check_could_fail(entry: dict[str, Any]) -> None:
    """An ASK that holds on an empty store proves nothing about the KB."""
    empty = EmbeddedStore(ox.Store())
    assert not empty.ask(sparql_prologue() + entry["ask"]), entry["id"]
