"""What was in force on a day: the status of dated resources and of role assignments.

A resource is in force from its start (ck:effectiveFrom, or the end of a month/year period) and until
its end. Where the sources give no start, it may be in force from its announcement (or from its
arrangement's start) — "possibly", with the reason — unless ck:inForceBefore shows it already was.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..common.backend import SparqlBackend
from ..common.ids import to_id
from ..common.namespaces import KB, sparql_prologue
from .changes import When

_PROLOGUE = sparql_prologue()
_DATES = _PROLOGUE + """
SELECT ?s ?p ?o WHERE {
  ?s ?p ?o .
  FILTER(?p IN (ck:announcedOn, ck:effectiveFrom, ck:effectiveTo, ck:inForceBefore, ck:effectiveFromPeriod,
                ck:effectiveToPeriod, ck:withinArrangement, ck:notStated))
  FILTER(isIRI(?s))
}"""
_ROLES = _PROLOGUE + """
SELECT ?ra ?member ?role WHERE { ?ra a ck:RoleAssignment ; org:member ?member ; org:role ?role }"""

IN_FORCE, POSSIBLY, NOT_YET, ENDED = "in force", "possibly in force", "not yet in force", "ended"


@dataclass
class Dates:
    values: dict[str, str] = field(default_factory=dict)
    within: str | None = None
    not_stated: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Status:
    state: str
    reason: str

    @property
    def holds(self) -> bool:
        return self.state in (IN_FORCE, POSSIBLY)

    def as_json(self) -> dict[str, str]:
        return {"state": self.state, "reason": self.reason}


class AsOfView:
    def __init__(self, backend: SparqlBackend):
        self.dates: dict[str, Dates] = {}
        for row in backend.select(_DATES):
            entry = self.dates.setdefault(row["s"]["value"], Dates())
            prop = to_id(row["p"]["value"])
            if prop == "ck:withinArrangement":
                entry.within = row["o"]["value"]
            elif prop == "ck:notStated":
                entry.not_stated.add(to_id(row["o"]["value"]))
            else:
                entry.values.setdefault(prop, row["o"]["value"])
        self.roles: list[tuple[str, str, str]] = [(r["ra"]["value"], r["member"]["value"], r["role"]["value"])
                                                  for r in backend.select(_ROLES)]

    def is_dated(self, iri: str) -> bool:
        entry = self.dates.get(iri)
        return bool(entry and (entry.values or entry.not_stated & {"ck:effectiveFrom"}))

    def status(self, iri: str, day: dt.date) -> Status | None:
        """The resource's status on `day`, or None where nothing about it is dated."""
        entry = self.dates.get(iri)
        if entry is None or not self.is_dated(iri):
            return None
        v = entry.values
        end = v.get("ck:effectiveTo") or v.get("ck:effectiveToPeriod")
        if end and When.parse(end).last < day:
            return Status(ENDED, f"ended {end}")
        if "ck:effectiveFrom" in v:
            start = dt.date.fromisoformat(v["ck:effectiveFrom"])
            return Status(IN_FORCE, f"in force from {start}") if start <= day else Status(
                NOT_YET, f"takes effect {start}")
        if "ck:effectiveFromPeriod" in v:
            period = When.parse(v["ck:effectiveFromPeriod"])
            if period.last <= day:
                return Status(IN_FORCE, f"in force from {period.text}")
            if period.first > day:
                return Status(NOT_YET, f"takes effect {period.text}")
            return Status(POSSIBLY, f"takes effect in {period.text}; the day is not stated")
        if "ck:inForceBefore" in v and dt.date.fromisoformat(v["ck:inForceBefore"]) <= day:
            return Status(IN_FORCE, f"start date not stated; already in force before {v['ck:inForceBefore']}")
        bound, why = self._earliest_start(entry)
        if bound is not None and bound > day:
            return Status(NOT_YET, why)
        return Status(POSSIBLY, "start date not stated" + (f"; {why}" if why else ""))

    def _earliest_start(self, entry: Dates) -> tuple[dt.date | None, str]:
        if "ck:announcedOn" in entry.values:
            return dt.date.fromisoformat(entry.values["ck:announcedOn"]), f"announced {entry.values['ck:announcedOn']}"
        if entry.within and entry.within in self.dates:
            arrangement = self.dates[entry.within].values
            start = arrangement.get("ck:effectiveFrom") or arrangement.get("ck:effectiveFromPeriod")
            if start:
                return When.parse(start).first, f"the arrangement began {start}"
        return None, ""

    def holders(self, role_iri: str, day: dt.date) -> list[tuple[str, str, Status]]:
        """(member, role assignment, status) for each assignment of the role in force, or possibly, on `day`."""
        out = []
        for ra, member, role in self.roles:
            if role != role_iri:
                continue
            status = self.status(ra, day)
            if status is None or status.holds:
                out.append((member, ra, status or Status(POSSIBLY, "no dates stated")))
        return out

    def annotate_roles(self, roles: list[dict[str, Any]], day: dt.date) -> list[dict[str, Any]]:
        """The entity's roles held (or possibly held) on `day`, each with its status."""
        out = []
        for role in roles:
            status = self.status(str(KB) + role["id"], day)
            if status is None or status.holds:
                out.append({**role, "status": (status or Status(POSSIBLY, "no dates stated")).as_json()})
        return out
