"""Skip pySHACL's regex sanity checks of a SHACL-SPARQL constraint text it has already accepted.

pySHACL re-runs several regular expressions over each constraint's text on every validation
(~5 % of a rule evaluation here). The shapes are fixed once loaded, so a text that passed is not
checked again; a text that fails still raises every time.
"""

from __future__ import annotations

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


def install() -> None:
    SPARQLQueryHelper.check_invalid_sparql = _cached_check  # type: ignore[method-assign]
