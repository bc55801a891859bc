"""The JSON shapes the time routes answer with, for the OpenAPI document (members not named are kept)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Change(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    date: str = Field(description="YYYY-MM-DD, or YYYY-MM / YYYY where the source gives no day")
    kind: str = Field(description="announced, effective, ended, amended or corrected")
    summary: str
    subject: dict[str, Any] = Field(description="what changed: its id, IRI and label")
    citations: list[dict[str, Any]]


class ChangeList(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "from": "2024-12-31", "to": "2025-01-31", "lang": "en", "total": 1, "changes": [{
            "id": "announced-hsbc-agent-witness-bank", "date": "2025-01-13", "kind": "announced",
            "summary": "announced: HSBC as a participating bank for agent witness account opening",
            "subject": {"id": "role-assignment/hsbc-agent-witness-bank"}, "citations": []}]}]})

    from_: str = Field(alias="from")
    to: str
    lang: str
    total: int = Field(description="changes in the window; with limit, the Link header names the next page")
    changes: list[Change]


class Release(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    issued: str
    note: str
    triples: int
    current: bool


class ReleaseList(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "current": "2026.12.0", "releases": [{"id": "2026.11.0", "issued": "2026-11-01", "note": "First release",
                                              "triples": 17000, "current": False}]}]})

    current: str | None
    releases: list[Release]
