"""`POST /v1/screenings`: a bond universe (CSV, JSON Lines or Parquet body) against rules, answered as a
stream (NDJSON by default, CSV by Accept) while the body is still arriving. Nothing is stored.

The status is decided once the first answers are ready: a limit passed or a body that cannot be read
before then is a plain 413 / 503 / 422; after it, the stream ends with an error line instead. Parquet keeps
its index at the end of the file, so a Parquet body is buffered whole (up to the byte limit) before any
row is read; CSV and JSON Lines are read as they arrive, holding one unfinished record between chunks."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from ..common.http import IsoDate, field_error
from .output import CSV, NDJSON, WRITERS
from .readers import BodyParser, InputError, format_for_content_type
from .screen import CHUNK_ROWS, NoRuleMatched, Screener, select_rules
from .session import LimitExceeded, Session

MAX_ROWS_ENV, DEFAULT_MAX_ROWS = "CONNECTKB_SCREEN_MAX_ROWS", 1_000_000
MAX_BYTES_ENV, DEFAULT_MAX_BYTES = "CONNECTKB_SCREEN_MAX_BYTES", 256 * 2**20
TIMEOUT_ENV, DEFAULT_TIMEOUT_S = "CONNECTKB_SCREEN_TIMEOUT_S", 120.0
CHUNK_ENV = "CONNECTKB_SCREEN_CHUNK_ROWS"  # rows screened at a time (default screen.CHUNK_ROWS)
AHEAD_ENV, DEFAULT_AHEAD_BYTES = "CONNECTKB_SCREEN_AHEAD_BYTES", 64 * 2**20
FEED_BYTES = 1 << 20  # body bytes gathered before a hop to the worker thread: few hops, a bounded buffer


def _accepted(accept: str | None) -> str | None:
    """The answer's media type by Accept: NDJSON unless CSV comes first; None if neither is acceptable."""
    if not accept:
        return NDJSON
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in (CSV, "application/csv"):
            return CSV
        if media in (NDJSON, "application/jsonl", "application/json-lines", "*/*", "application/*", "text/*"):
            return CSV if media == "text/*" else NDJSON
    return None


class _Limits:
    def __init__(self) -> None:
        self.rows = int(os.environ.get(MAX_ROWS_ENV, DEFAULT_MAX_ROWS))
        self.bytes = int(os.environ.get(MAX_BYTES_ENV, DEFAULT_MAX_BYTES))
        self.seconds = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
        self.ahead = int(os.environ.get(AHEAD_ENV, DEFAULT_AHEAD_BYTES))
        self.chunk = max(1, int(os.environ.get(CHUNK_ENV, CHUNK_ROWS)))


class _Stream:
    """Body → answers: reads the request body in chunks, hands them to the session in a worker thread, and
    yields the session's output; raises LimitExceeded for bytes and time (the session raises it for rows)."""

    def __init__(self, request: Request, session: Session, limits: _Limits):
        self.request, self.session, self.limits = request, session, limits
        self.deadline = time.monotonic() + limits.seconds
        self.received = 0

    async def _run(self, fn: Any, *args: Any) -> Any:
        left = self.deadline - time.monotonic()
        try:
            with anyio.fail_after(max(left, 0.001)):
                # abandon_on_cancel: past the limit the caller is answered now; the thread ends its chunk
                return await anyio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)
        except TimeoutError:
            raise self._too_slow() from None

    def _too_slow(self) -> LimitExceeded:
        return LimitExceeded(503, "body", f"the screening did not finish within {self.limits.seconds:g} s; "
                                          "send fewer rows or try again later")

    async def answers(self) -> AsyncIterator[bytes]:
        yield self.session.header()
        session = self.session
        gathered: list[bytes] = []
        size = 0
        async for chunk in self.request.stream():
            if time.monotonic() > self.deadline:
                raise self._too_slow()
            self.received += len(chunk)
            if self.received > self.limits.bytes:
                raise LimitExceeded(413, "body", f"the body is larger than {self.limits.bytes} bytes, the most one "
                                                 "screening reads; split the universe")
            gathered.append(chunk)
            size += len(chunk)
            if size >= FEED_BYTES:
                raw, gathered, size = b"".join(gathered), [], 0
                await self._run(session.feed, raw)
                while (out := await self._run(session.step)) is not None:
                    yield out
        if gathered:
            await self._run(session.feed, b"".join(gathered))
        await self._run(session.end)
        while (out := await self._run(session.step)) is not None:
            yield out


class _Pipe:
    """Answers on their way to the client, at most `limit` bytes of them: the screening runs ahead of a
    client that reads its answer only once it has sent the whole body (as most HTTP clients do), as long as
    what it runs ahead by fits; past that it waits for the client, and so stops reading the body."""

    def __init__(self, limit: int):
        self.limit = limit
        self.parts: deque[bytes] = deque()
        self.size = 0
        self.closed = False
        self.changed = anyio.Condition()

    async def put(self, part: bytes) -> None:
        async with self.changed:
            while self.size >= self.limit:
                await self.changed.wait()
            self.parts.append(part)
            self.size += len(part)
            self.changed.notify_all()

    async def close(self) -> None:
        async with self.changed:
            self.closed = True
            self.changed.notify_all()

    async def get(self) -> bytes | None:
        async with self.changed:
            while not self.parts and not self.closed:
                await self.changed.wait()
            if not self.parts:
                return None
            part = self.parts.popleft()
            self.size -= len(part)
            self.changed.notify_all()
            return part


class _StreamedAnswer(Response):
    """Sends `first`, then the rest of `stream` through a `_Pipe`. Unlike StreamingResponse it does not
    listen for the client's disconnect on `receive` meanwhile: the body is still being read from it. The
    whole answer is bounded by the time limit; a client that stops reading past it is cut off."""

    def __init__(self, first: bytes, stream: AsyncIterator[bytes], writer: Any, media_type: str, ahead: int,
                 seconds: float):
        # no super().__init__: it would declare the Content-Length of an empty body (as StreamingResponse does)
        self.status_code, self.media_type, self.background = 200, media_type, None
        self.init_headers({"Vary": "Accept", "Cache-Control": "no-store"})
        self.first, self.stream, self.writer = first, stream, writer
        self.pipe, self.seconds = _Pipe(ahead), seconds

    async def _produce(self) -> None:
        pipe, writer = self.pipe, self.writer
        try:
            async for part in self.stream:
                await pipe.put(part)
        except LimitExceeded as exc:
            await pipe.put(exc.output + writer.final_error(exc.field, exc.message))
        except InputError as exc:
            await pipe.put(writer.final_error(exc.field, exc.message))
        except ClientDisconnect:
            pass
        finally:
            await self.stream.aclose()  # type: ignore[attr-defined]
            await pipe.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        with anyio.move_on_after(self.seconds + 5):  # the producer's own limit answers first, if it can be sent
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._produce)
                try:
                    await send({"type": "http.response.body", "body": self.first, "more_body": True})
                    while (part := await self.pipe.get()) is not None:
                        await send({"type": "http.response.body", "body": part, "more_body": True})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                except OSError:  # the client went away
                    tasks.cancel_scope.cancel()


def build_router(rules: Any, compiled: Any) -> APIRouter:
    router = APIRouter()
    limits = _Limits()

    @router.post("/v1/screenings", response_model=None, summary="Screen a bond universe against rules",
                 openapi_extra=_OPENAPI)
    async def screenings(request: Request,
                         rules_: Annotated[str, Query(alias="rules", description="rule ids or globs, comma-separated",
                                                      max_length=1000)] = "index-*",
                         as_of: Annotated[IsoDate | None, Query()] = None) -> Response:
        """The body is CSV (`text/csv`: a column per input fact, plus `id`; lists `;`-separated; ratings
        `agency:grade`), JSON Lines (`application/x-ndjson`: `{"id": …, "facts": {…}}` a line) or Parquet
        (`application/vnd.apache.parquet`). The answer, NDJSON or CSV by Accept, has a line per bond and rule
        (verdict, each criterion's outcome, missing facts, next fact), a line per bad row (its row number and
        field), and in a stream cut short by a limit, a last line saying which."""
        try:
            rule_ids = select_rules(rules.rules, rules_)
        except NoRuleMatched as exc:
            return field_error(422, ["query", "rules"], str(exc))
        try:
            fmt = format_for_content_type(request.headers.get("content-type"))
        except InputError as exc:
            return field_error(415, ["header", "Content-Type"], exc.message)
        media = _accepted(request.headers.get("accept"))
        if media is None:
            return field_error(406, ["header", "Accept"], "a screening answers application/x-ndjson or text/csv")
        declared = request.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limits.bytes:
            return field_error(413, ["body"], f"the body is larger than {limits.bytes} bytes, the most one "
                                              "screening reads; split the universe")
        when = as_of or dt.date.today()
        screener = Screener(compiled, rule_ids, when)
        writer = WRITERS["csv" if media == CSV else "jsonl"](rule_ids, screener.criterion_columns)
        session = Session(screener, BodyParser(rules.input_facts, fmt), writer, limits.rows, limits.chunk)
        stream = _Stream(request, session, limits).answers()
        # the first answers decide the status: wait for them (the header, then a chunk's answers) or for the
        # end of a small body
        first = []
        try:
            # a body that stops arriving is bounded by the time limit too
            with anyio.fail_after(limits.seconds):
                async for part in stream:
                    first.append(part)
                    if len(first) > 1:
                        break
                else:
                    body = b"".join(first)
                    return Response(body, media_type=media, headers={"Vary": "Accept", "Cache-Control": "no-store"})
        except TimeoutError:
            await stream.aclose()  # type: ignore[attr-defined]
            return _unavailable(f"the screening did not finish within {limits.seconds:g} s; send fewer rows or "
                                "try again later")
        except LimitExceeded as exc:
            return field_error(exc.status, ["body"], exc.message) if exc.status == 413 else \
                _unavailable(exc.message)
        except InputError as exc:
            return field_error(422, ["body"] if exc.field == "body" else ["body", exc.field], exc.message)
        except ClientDisconnect:
            return Response(status_code=400)
        return _StreamedAnswer(b"".join(first), stream, writer, media, limits.ahead, limits.seconds)

    return router


_TEXT_BODY = {"schema": {"type": "string"}}
_OPENAPI = {
    "requestBody": {"required": True, "content": {
        "text/csv": _TEXT_BODY, "application/x-ndjson": _TEXT_BODY,
        "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}}},
    "responses": {"200": {"description": "a line per bond and rule, a line per bad row, and a last error line "
                                         "if a limit cut the answer short",
                          "content": {NDJSON: _TEXT_BODY, CSV: _TEXT_BODY}},
                  "413": {"description": "more rows or bytes than one screening takes"},
                  "415": {"description": "a body that is not CSV, JSON Lines or Parquet"},
                  "503": {"description": "the screening did not finish within its time limit"}},
}


def _unavailable(message: str) -> Response:
    response = field_error(503, ["body"], message)
    response.headers["Retry-After"] = "5"
    return response
