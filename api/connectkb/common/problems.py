"""The one error format of the service: RFC 9457 problem details (`application/problem+json`).

Every error answer carries `type`, `title`, `status` and `detail`; an error about a field of the
request also carries `errors`, a list of `{"loc": [...], "msg": ..., "type": ...}` naming where it is
(`["query", "type"]`, `["body", "facts", "age"]`) in FastAPI's own location convention.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .held_answers import holding

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="where the error is: query, path, header or body, then the field")
    msg: str = Field(description="what was expected")
    type: str = Field(default="value_error")


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "type": "about:blank", "title": "Unprocessable Content", "status": 422,
        "detail": "query.type: unknown type 'Bank': expected a class of the KB such as CommercialBank",
        "errors": [{"loc": ["query", "type"], "msg": "unknown type 'Bank': expected a class of the KB such as "
                    "CommercialBank", "type": "value_error"}]}]})

    type: str = Field(default="about:blank")
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(default=None, description="the fields at fault, when the problem is "
                                                                      "about the request's fields")


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_body(status: int, detail: str, errors: list[dict[str, Any]] | None = None,
                 **extensions: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "about:blank", "title": _title(status), "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    body.update(extensions)
    return body


def problem(status: int, detail: str, errors: list[dict[str, Any]] | None = None,
            headers: dict[str, str] | None = None, **extensions: Any) -> JSONResponse:
    """An error answer: `detail` says what went wrong, `errors` where, extensions add members (e.g. `acceptable`)."""
    return JSONResponse(problem_body(status, detail, errors, **extensions), status_code=status,
                        media_type=PROBLEM_JSON, headers=headers)


def _field_errors(raw: list[Any]) -> list[dict[str, Any]]:
    errors = []
    for item in raw:
        if isinstance(item, dict) and "msg" in item:
            errors.append({"loc": list(item.get("loc", [])), "msg": str(item["msg"]),
                           "type": str(item.get("type", "value_error"))})
        else:
            errors.append({"loc": [], "msg": str(item), "type": "value_error"})
    return errors


def _summary(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"] for e in errors)


def from_detail(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    """A problem from FastAPI's `detail` convention: a message, or a list of located field errors."""
    if isinstance(detail, list):
        errors = _field_errors(detail)
        return problem(status, _summary(errors) or _title(status), errors, headers=headers)
    return problem(status, str(detail) if detail is not None else _title(status), headers=headers)


async def http_exception(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if exc.status_code == 404 and detail == "Not Found":
        detail = "no such resource: see /docs for the service's routes"
    elif exc.status_code == 405 and detail == "Method Not Allowed":
        allowed = next((v for k, v in (exc.headers or {}).items() if k.lower() == "allow"), "")
        detail = f"this resource answers {allowed}" if allowed else "method not allowed on this resource"
    return from_detail(exc.status_code, detail, headers=exc.headers)


async def validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return from_detail(422, list(exc.errors()))


async def internal_error(_: Request, exc: Exception) -> JSONResponse:
    # the server's log has the traceback; the client is told only that the fault is ours
    return problem(500, "an internal error: the service could not answer this request; it has been logged")


EXCEPTION_HANDLERS = {StarletteHTTPException: http_exception, RequestValidationError: validation_error,
                      Exception: internal_error}


class ProblemNormaliser:
    """Turns an error answered in FastAPI's legacy `{"detail": ...}` JSON shape (by a route that builds its
    own JSONResponse) into problem details, so that no route can answer errors in a second format."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        def pick(start: Message) -> bool:
            return start["status"] >= 400 and \
                _header(start, b"content-type").split(";")[0].strip() == "application/json"

        async def complete(start: Message, body: bytes) -> None:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            headers = [(k, v) for k, v in start["headers"] if k.lower() not in (b"content-type", b"content-length")]
            if isinstance(parsed, dict) and "detail" in parsed and "status" not in parsed:
                converted = from_detail(start["status"], parsed["detail"])
                body = converted.body
                headers.append((b"content-type", PROBLEM_JSON.encode()))
            else:
                headers.append((b"content-type", _header(start, b"content-type").encode()))
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, holding(send, pick, complete))


def _header(message: Message, name: bytes) -> str:
    for key, value in message.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


_PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
# the error answers every route may give, for the OpenAPI document
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": description, "content": _PROBLEM_CONTENT}
    for status, description in [
        (404, "Not found: no such entity, rule, release or route (problem details)"),
        (406, "Not acceptable: the Accept header excludes every format offered; `acceptable` lists them"),
        (422, "A malformed parameter or fact: `errors` names the field and what was expected"),
    ]}
