"""Checks that every seed citation's quote occurs verbatim in its seed document.

SHACL cannot read files, so this check runs beside the shapes: `connectkb validate` and the tests
call it whenever the seed documents are present next to the repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from ..common.namespaces import compact, sparql_prologue

_WHITESPACE = re.compile(r"\s+", re.UNICODE)

_SEED_QUOTES = sparql_prologue() + """
SELECT ?citation ?file ?quote WHERE {
  ?citation ck:source ?source ; ck:quote ?quote .
  ?source ck:seedFile ?file .
}"""


def normalise(text: str) -> str:
    """Drop all whitespace: seed texts break lines and space digits inconsistently."""
    return _WHITESPACE.sub("", text)


@dataclass(frozen=True)
class QuoteProblem:
    citation: str
    seed_file: str
    quote: str

    def __str__(self) -> str:
        return f"{compact(self.citation)}: quote not found verbatim in seed {self.seed_file}: «{self.quote[:80]}»"


def check_quotes(store: ox.Store, seeds: Path) -> tuple[int, list[QuoteProblem]]:
    """Return how many seed quotes were checked and those that do not occur in their seed."""
    texts: dict[str, str] = {}
    checked = 0
    problems: list[QuoteProblem] = []
    for row in store.query(_SEED_QUOTES):
        citation, seed_file, quote = (term.value for term in row)
        if seed_file not in texts:
            path = seeds / seed_file
            texts[seed_file] = normalise(path.read_text(encoding="utf-8")) if path.exists() else ""
        checked += 1
        if not normalise(quote) or normalise(quote) not in texts[seed_file]:
            problems.append(QuoteProblem(citation, seed_file, quote))
    return checked, sorted(problems, key=lambda p: p.citation)
