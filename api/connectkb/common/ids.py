"""Entity ids as users write them (`boc`, `ck:RoleAssignment`) and the IRIs they name."""

from __future__ import annotations

import re

import pyoxigraph as ox

from .namespaces import KB, PREFIXES

KB_BASE = str(KB)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._~\-/:%]+$")
MAX_ID_LENGTH = 300  # the KB's longest id is under 100 characters; longer ones only cost memory


class BadIdentifier(ValueError):
    """An entity id that cannot name any IRI of the KB."""


def to_id(iri: str) -> str:
    """The shortest id of an IRI: a KB local name, a CURIE, or the IRI itself."""
    if iri.startswith(KB_BASE):
        return iri[len(KB_BASE):]
    best = None
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and (best is None or len(ns) > len(PREFIXES[best.split(":")[0]])):
            best = f"{prefix}:{iri[len(ns):]}"
    return best or iri


def iri_node(iri: str) -> ox.NamedNode:
    """The IRI as a term to bind into a query; pyoxigraph checks it against RFC 3987 (so no '>', space,
    or stray '%' can get through), else BadIdentifier."""
    try:
        return ox.NamedNode(iri)
    except ValueError:
        shown = iri if len(iri) <= 80 else iri[:80] + "…"
        raise BadIdentifier(f"'{shown}' is not a valid IRI") from None


def to_iri(entity_id: str) -> str:
    shown = entity_id if len(entity_id) <= 80 else entity_id[:80] + "…"
    if len(entity_id) > MAX_ID_LENGTH:
        raise BadIdentifier(f"'{shown}' is not an entity id: ids are at most {MAX_ID_LENGTH} characters")
    if not entity_id or not _SAFE_ID.match(entity_id):
        raise BadIdentifier(f"'{shown}' is not an entity id: expected a KB id such as 'boc' "
                            "or a CURIE such as 'ck:RoleAssignment'")
    prefix, sep, rest = entity_id.partition(":")
    if sep and prefix in PREFIXES:
        iri = PREFIXES[prefix] + rest
    elif sep:
        raise BadIdentifier(f"'{shown}': unknown prefix '{prefix}'; "
                            f"known prefixes are {', '.join(sorted(PREFIXES))}")
    else:
        iri = KB_BASE + entity_id
    try:
        ox.NamedNode(iri)
    except ValueError:
        # '%' that is not followed by two hex digits, for one
        raise BadIdentifier(f"'{shown}' is not an entity id: it does not make a valid IRI "
                            "(a '%' must start a percent-encoding such as %20)") from None
    return iri
