"""HTTP pieces every engine's routes share: the language parameters and the error shape."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import Header, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BeforeValidator, WithJsonSchema

LangQuery = Annotated[str | None, Query(pattern="^(en|zh)(-[A-Za-z]+)?$", description="en or zh")]
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


def field_error(status: int, loc: list[str], message: str) -> JSONResponse:
    """The one error shape of the JSON API (FastAPI's validation shape): where, which field, what was expected."""
    return JSONResponse(status_code=status, content={"detail": [{"loc": loc, "msg": message, "type": "value_error"}]})


def field_exception(status: int, loc: list[str], message: str) -> HTTPException:
    """field_error's shape, raised from inside a route."""
    return HTTPException(status_code=status, detail=[{"loc": loc, "msg": message, "type": "value_error"}])


def parse_date(value: str, loc: list[str]) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise field_exception(422, loc, f"'{value}' is not a date YYYY-MM-DD") from None
