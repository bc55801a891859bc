"""HTTP pieces every engine's routes share: the language parameters and the error shape (problem details)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import Header, HTTPException, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BeforeValidator, WithJsonSchema
from starlette.datastructures import URL

from .problems import problem

LangQuery = Annotated[str | None, Query(
    pattern="^(en|zh)(-[A-Za-z]+)?$",
    description="en, zh (Simplified: zh-Hans, zh-CN) or zh-Hant (Traditional: zh-HK, zh-TW, zh-MO)")]
AcceptLanguage = Annotated[str | None, Header()]


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_day(value: Any) -> Any:
    # pydantic's lax mode reads 0 (or "0") as 1970-01-01 and accepts datetimes; a day is only YYYY-MM-DD
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _ISO_DAY.match(value):
        raise ValueError("expected a date YYYY-MM-DD")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_day), WithJsonSchema({"type": "string", "format": "date"})]


class AnswerJSON(JSONResponse):
    """An answer already made of JSON's own types (dicts, lists, strings, numbers), encoded as FastAPI would
    encode it but without its `jsonable_encoder` walk, which cost more than the evaluation itself on the
    rules routes. A value JSON has no type for (a Decimal, a date) takes FastAPI's walk, as before."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except TypeError:
            return super().render(jsonable_encoder(content))


def field_error(status: int, loc: list[str], message: str) -> JSONResponse:
    """The one error shape of the API (RFC 9457 problem details) for a bad field: where, which field, what was
    expected."""
    return problem(status, f"{'.'.join(loc)}: {message}", [{"loc": loc, "msg": message, "type": "value_error"}])


def field_exception(status: int, loc: list[str], message: str) -> HTTPException:
    """field_error's problem, raised from inside a route (the app's HTTPException handler shapes it)."""
    return HTTPException(status_code=status, detail=[{"loc": loc, "msg": message, "type": "value_error"}])


def parse_date(value: str, loc: list[str]) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise field_exception(422, loc, f"'{value}' is not a date YYYY-MM-DD") from None


def pagination_links(url: URL, total: int, limit: int, offset: int) -> str | None:
    """The RFC 8288 `Link` header of one page of a list: `next` and `prev` pages of the same query."""
    links = []
    if offset + limit < total:
        links.append(f'<{url.include_query_params(offset=offset + limit, limit=limit)}>; rel="next"')
    if offset > 0:
        links.append(f'<{url.include_query_params(offset=max(0, offset - limit), limit=limit)}>; rel="prev"')
    return ", ".join(links) or None
