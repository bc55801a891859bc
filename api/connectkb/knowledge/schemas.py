"""The JSON shapes the knowledge routes answer with, for the OpenAPI document; each model allows the
members it does not name, so that a new member of an answer is never dropped."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_OPEN = ConfigDict(extra="allow")


class Health(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "status": "ok", "triples": 18725, "release": "2026.12.0", "conforms": True, "quotes_checked": 548,
        "quote_check": "checked against the seed documents", "load_seconds": 1.0}]})

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
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "lang": "en", "total": 20, "limit": 1, "offset": 0, "items": [{
            "id": "hsbc", "iri": "https://w3id.org/connectkb/id/hsbc",
            "label": "The Hongkong and Shanghai Banking Corporation Limited (HSBC)",
            "types": ["fse:CommercialBank", "org:FormalOrganization"]}]}]})

    lang: str
    total: int = Field(description="matches in all; the Link header names the next and previous pages")
    limit: int
    offset: int
    as_of: str | None = Field(default=None, description="the day asked about, when as_of or role is given")
    role: str | None = None
    items: list[EntitySummary]


class Entity(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "id": "hsbc", "iri": "https://w3id.org/connectkb/id/hsbc",
        "label": "The Hongkong and Shanghai Banking Corporation Limited (HSBC)",
        "labels": {"en": "The Hongkong and Shanghai Banking Corporation Limited (HSBC)"}, "alt_labels": [],
        "types": [{"id": "fse:CommercialBank", "iri": "https://spec.edmcouncil.org/fibo/ontology/FBC/"
                   "FunctionalEntities/FinancialServicesEntities/CommercialBank", "label": None}],
        "facts": [{"property": "ck:code", "property_label": "code", "value": {"value": "hsbc"}}],
        "citations": [], "roles": [{"id": "role-assignment/hsbc-agent-witness-bank",
                                    "role": {"id": "role-agent-witness-bank"}, "announced_on": "2025-01-13"}],
        "referenced_by": []}]})

    id: str
    iri: str
    label: str | None
    labels: dict[str, Any]
    types: list[dict[str, Any]] = Field(description="its classes: id, IRI and label")
    facts: list[dict[str, Any]] = Field(description="its statements, each with the property's label")
    citations: list[dict[str, Any]] = Field(description="document, locator, verbatim quote, source tier")
    roles: list[dict[str, Any]] = Field(description="its role assignments over time, with their dates")
    referenced_by: list[dict[str, Any]]
