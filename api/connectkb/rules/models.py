"""The typed shapes of the rules routes (requests, answers, errors) for the OpenAPI document.

Requests are validated by them; answers are built by the engines as plain dicts, which these models
describe (`responses=`), with extra members allowed: an answer is never cut down to the model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..common.examples import examples
from ..common.http import IsoDate
from ..common.problems import PROBLEM_JSON, Problem

_OPEN = ConfigDict(extra="allow", populate_by_name=True)


# ---------------------------------------------------------------- requests
class EvaluationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": examples("EvaluationRequest")})
    facts: dict[str, Any] = Field(description="the input facts by JSON name (see the rule's facts_schema)")
    as_of: IsoDate | None = Field(None, description="the day the answer is for (default: today)")


class TimelineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True,
                              json_schema_extra={"examples": examples("TimelineRequest")})
    facts: dict[str, Any] = Field(description="the input facts by JSON name")
    from_: IsoDate = Field(alias="from", description="first day of the timeline")
    to: IsoDate = Field(description="last day of the timeline")


class ReleaseDiffRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": examples("ReleaseDiffRequest")})
    facts: dict[str, Any] | None = Field(None, description="one fact set")
    fact_sets: list[dict[str, Any]] | None = Field(None, max_length=200,
                                                   description="a screening file: several fact sets")
    as_of: IsoDate | None = Field(None, description="the day the answers are for (default: today)")


# ---------------------------------------------------------------- shared parts
class Citation(BaseModel):
    model_config = _OPEN
    id: str
    source: str | None = None
    title: str | None = None
    locator: str | None = None
    quote: str | None = None
    note: str | None = None
    tier: str | None = None
    address: str | None = None


class Ref(BaseModel):
    model_config = _OPEN
    id: str
    label: str | None = None


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the error statuses a route can answer, all as problem details (RFC 9457) whose
    `errors` name the field and what was expected."""
    text = {404: "no such rule or release", 413: "the body is too large", 415: "unsupported Content-Type",
            422: "a malformed parameter, body or fact: `errors[].loc` names it and `msg` says what was expected",
            503: "the evaluation did not finish in time; retry after the Retry-After header's seconds"}
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {code: {"model": Problem, "description": text[code], "content": content} for code in codes}


def ok(model: type[BaseModel], other: dict[str, Any] | None = None) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a 200 answer described by `model`. Documentation only: answers are the engines'
    dicts, served as they are, so a member an engine adds is never dropped nor a shape change a 500."""
    return {200: {"model": model, "description": model.__doc__ or "the answer",
                  **({"content": other} if other else {})}}


# ---------------------------------------------------------------- catalogue
class RuleSummary(BaseModel):
    model_config = _OPEN
    id: str
    iri: str
    label: str | None
    labels: dict[str, str]
    applies_to: list[Ref]
    citations: list[Citation]


class RuleList(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": examples("RuleList")})
    lang: str
    rules: list[RuleSummary]


class CriterionDescription(BaseModel):
    model_config = _OPEN
    id: str
    label: str | None
    labels: dict[str, str]
    requires: list[str]
    citations: list[Citation]


class EngineInfo(BaseModel):
    serves: Literal["compiled", "reference"]
    reason: str


class RuleDescription(RuleSummary):
    criteria: list[CriterionDescription]
    unstated_criteria: list[Ref]
    facts_schema: dict[str, Any] = Field(description="JSON Schema of the rule's input facts")
    engine: EngineInfo


# ---------------------------------------------------------------- answers
class CriterionOutcome(BaseModel):
    model_config = _OPEN
    id: str
    label: str | None
    outcome: Literal["pass", "fail", "unknown"]
    message: str | None
    requires: list[str]
    citations: list[Citation]


class Satisfied(BaseModel):
    model_config = _OPEN
    criterion: str
    label: str | None
    citations: list[Citation]


class Step(BaseModel):
    model_config = _OPEN
    fact: str
    from_: Any = Field(None, alias="from", description="the value given (null: not given)")
    to: Any = Field(description="a value that works")
    alternatives: list[Any] = Field(default_factory=list, description="other values that work as well "
                                                                      "(for a number, see condition)")
    condition: str = Field(description="the values that work, as a condition on the fact (see the examples)")
    satisfies: list[Satisfied]


class Option(BaseModel):
    changes: list[Step]


class Earliest(BaseModel):
    date: str
    facts_as_given: bool = Field(description="true: the facts as given become eligible on that day")
    options: list[Option]


class Counterfactuals(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": examples("Counterfactuals")})
    engine: Literal["compiled", "reference"]
    searched: bool
    options: list[Option]
    none_helps: bool | None = None
    reason: str | None = None
    earliest: Earliest | None = None
    max_changes: int | None = None
    evaluations: int | None = None


class KnownAt(BaseModel):
    model_config = _OPEN
    release: str | None
    issued: str | None
    current: bool
    engine: Literal["compiled", "reference"] | None = None
    engine_reason: str | None = None


class EvaluationAnswer(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": examples("EvaluationAnswer")})
    rule: str
    label: str | None
    as_of: str
    lang: str
    verdict: Literal["eligible", "ineligible", "undetermined"]
    criteria: list[CriterionOutcome]
    missing_facts: list[str]
    next_fact: str | None
    ignored_facts: list[str]
    unstated_criteria: list[Ref]
    citations: list[Citation]
    counterfactuals: Counterfactuals | None = Field(None, description="ineligible or undetermined answers: "
                                                    "the smallest changes of the facts that make it eligible")
    known_at: KnownAt | None = Field(None, description="with as_known_at: the release that answered")


class Because(BaseModel):
    model_config = _OPEN
    subject: Ref
    property: str
    date: str
    moves: str
    citations: list[Citation]


class CriterionChange(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    criterion: str
    from_: str | None = Field(alias="from")
    to: str


class Boundary(BaseModel):
    model_config = _OPEN
    date: str
    criteria: list[CriterionChange]
    because: list[Because]
    input_facts: list[str] | None = None


class Unstated(BaseModel):
    model_config = _OPEN
    subject: Ref
    property: str | None = Field(description="the property the sources leave unstated (null: only a date note "
                                             "on the subject says what is missing)")
    notes: list[str]
    citations: list[Citation]


class OpenStretch(BaseModel):
    model_config = _OPEN
    criteria: list[dict[str, Any]]
    missing_facts: list[str]
    not_stated: list[Unstated]


class Interval(BaseModel):
    model_config = _OPEN
    from_: str = Field(alias="from")
    to: str
    verdict: Literal["eligible", "ineligible", "undetermined"]
    criteria: list[dict[str, Any]]
    change: Boundary | None = None
    open: OpenStretch | None = None


class TimelineAnswer(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True,
                              json_schema_extra={"examples": examples("TimelineAnswer")})
    rule: str
    label: str | None
    lang: str
    from_: str = Field(alias="from")
    to: str
    engine: Literal["compiled", "reference"]
    intervals: list[Interval]
    evaluations: int
    known_at: KnownAt | None = None


class DifferingAnswer(BaseModel):
    model_config = _OPEN
    fact_set: int
    verdicts: dict[str, str]
    criteria: list[dict[str, Any]]
    statements: list[dict[str, Any]]


class ReleaseDiffAnswer(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True,
                              json_schema_extra={"examples": examples("ReleaseDiffAnswer")})
    rule: str
    from_: KnownAt = Field(alias="from")
    to: KnownAt
    as_of: str
    fact_sets: int
    differing: list[DifferingAnswer]
