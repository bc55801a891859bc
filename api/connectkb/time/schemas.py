"""The JSON shapes the time routes answer with, for the OpenAPI document (members not named are kept)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..common.examples import examples


class Change(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    date: str = Field(description="YYYY-MM-DD, or YYYY-MM / YYYY where the source gives no day")
    kind: str = Field(description="announced, effective, ended, amended or corrected")
    summary: str
    subject: dict[str, Any] = Field(description="what changed: its id, IRI and label")
    citations: list[dict[str, Any]]


class ChangeList(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": examples("ChangeList")})

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
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": examples("ReleaseList")})

    current: str | None
    releases: list[Release]
