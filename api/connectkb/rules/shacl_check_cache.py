"""Skip pySHACL's regex sanity checks of a SHACL-SPARQL constraint text it has already accepted.

pySHACL re-runs several regular expressions over each constraint's text on every validation
(~5 % of a rule evaluation here). The shapes are fixed once loaded, so a text that passed is not
checked again; a text that fails still raises every time.

Two of those expressions (MINUS, SERVICE) backtrack over every line of the text: ~2 ms a check
text, most of the start-up cost of checking them. Neither can match a text without the letters
they look for, so such a text is not searched (the outcome is the same, only sooner).
"""

from __future__ import annotations

import re
from typing import Any

from pyshacl.helper.sparql_query_helper import SPARQLQueryHelper

_original_check = SPARQLQueryHelper.check_invalid_sparql
_checked: set[tuple[str, bool, tuple[str, ...]]] = set()


def _cached_check(self: SPARQLQueryHelper, sparql_text: str, valuenode: Any = None, extravars: Any = None) -> bool:
    key = (sparql_text, valuenode is not None, tuple(sorted(extravars or ())))
    if key not in _checked:
        _original_check(self, sparql_text, valuenode=valuenode, extravars=extravars)  # raises if invalid
        _checked.add(key)
    return True


class _Needing:
    """A case-insensitive regex whose matches all contain `letters`: a text without them is not searched.
    The letters are ones no non-ASCII character matches case-insensitively (unlike i, k and s)."""

    def __init__(self, regex: re.Pattern[str], letters: str):
        self.regex, self.letters = regex, letters

    def search(self, text: str, *args: Any) -> re.Match[str] | None:
        return self.regex.search(text, *args) if self.letters in text.lower() else None


def install() -> None:
    SPARQLQueryHelper.check_invalid_sparql = _cached_check  # type: ignore[method-assign]
    for name, letters in (("has_minus_regex", "nu"), ("has_service_regex", "erv")):
        regex = getattr(SPARQLQueryHelper, name)
        if isinstance(regex, re.Pattern):  # not installed yet
            setattr(SPARQLQueryHelper, name, _Needing(regex, letters))
