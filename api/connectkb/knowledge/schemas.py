"""The JSON shapes the knowledge routes answer with, for the OpenAPI document; each model allows the
members it does not name, so that a new member of an answer is never dropped."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..common.examples import examples

_OPEN = ConfigDict(extra="allow")


class Health(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": examples("Health")})

    status: str
    triples: int = Field(description="statements in the KB")
    release: str | None = Field(description="the KB release served (ck:release of kb:dataset)")
    conforms: bool = Field(description="whether the KB passed its SHACL shapes")
    quotes_checked: int
    quote_check: str
    load_seconds: float


class EntitySummary(BaseModel):
    model_config = _OPEN

    id: str = Field(description="the entity id: a KB local name or a CURIE")
    iri: str
    label: str | None
    types: list[str] = Field(description="its classes, as CURIEs")


class EntityList(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": examples("EntityList")})

    lang: str
    total: int = Field(description="matches in all; the Link header names the next and previous pages")
    limit: int
    offset: int
    as_of: str | None = Field(default=None, description="the day asked about, when as_of or role is given")
    role: str | None = None
    items: list[EntitySummary]


class Entity(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": examples("Entity")})

    id: str
    iri: str
    label: str | None
    labels: dict[str, Any]
    types: list[dict[str, Any]] = Field(description="its classes: id, IRI and label")
    facts: list[dict[str, Any]] = Field(description="its statements, each with the property's label")
    citations: list[dict[str, Any]] = Field(description="document, locator, verbatim quote, source tier")
    roles: list[dict[str, Any]] = Field(description="its role assignments over time, with their dates")
    referenced_by: list[dict[str, Any]]
