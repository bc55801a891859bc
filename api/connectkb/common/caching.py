"""HTTP caching for GET answers: validators (ETag, Last-Modified), conditional 304s, Cache-Control and Vary;
and 406 for a GET whose one media type the client's Accept refuses.

The KB changes only with a release, so a GET answer is a function of the release, the URL and the
negotiated headers (and, where a route defaults a date to today, of the day). The ETag is a digest of
the answer's bytes, so it is right whatever the route did; it is weak (W/) because the gzip layer
outside may re-encode the bytes. Last-Modified is the release's issue date, or the start of today for
routes that default a date to today.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from email.utils import format_datetime, parsedate_to_datetime

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .held_answers import holding
from .negotiation import negotiate
from .problems import problem

# Cache-Control per path prefix, first match wins. A dump's name carries its release, so its bytes never change.
CACHE_POLICY: list[tuple[str, str]] = [
    ("/health", "no-cache"),
    ("/ping", "no-cache"),
    ("/dumps/", "public, max-age=31536000, immutable"),
    ("/", "public, max-age=300"),
]
# where Accept-Language (or lang=) changes the body; a Vary too many only costs a cache hit
LANGUAGE_VARIES = ("/v1/", "/id/", "/ontology/")
# answers that are streams, never buffered (a stream's end may be long in coming)
STREAMED = ("application/x-ndjson", "text/event-stream")
# routes that, given no date, answer for today: their answer can change at midnight without a release
TODAY_DEPENDENT = ("/v1/entities", "/v1/changes")


def _policy(path: str) -> str:
    return next(value for prefix, value in CACHE_POLICY if path.startswith(prefix))


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2): W/ is ignored on both sides."""
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


def _not_modified_since(if_modified_since: str, last_modified: dt.datetime) -> bool:
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an unreadable date is ignored, as RFC 9110 §13.1.3 says
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return last_modified <= since


def _add_vary(headers: MutableHeaders, value: str) -> None:
    present = [v.strip() for v in headers.get("vary", "").split(",") if v.strip()]
    if value.lower() not in (v.lower() for v in present):
        headers["vary"] = ", ".join([*present, value])


class CachingMiddleware:
    """Buffers a successful GET answer to give it validators, answers 304 when the client's copy is current,
    and refuses (406) an answer in a media type the client's Accept excludes."""

    def __init__(self, app: ASGIApp, release_date: dt.date | None) -> None:
        self.app = app
        self.release_date = release_date

    def last_modified(self, path: str) -> dt.datetime | None:
        issued = self.release_date
        if issued is None:
            return None
        moment = dt.datetime.combine(issued, dt.time(), tzinfo=dt.UTC)
        if path.startswith(TODAY_DEPENDENT):
            moment = max(moment, dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time(), tzinfo=dt.UTC))
        return moment

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        request_headers = Headers(scope=scope)

        def pick(start: Message) -> bool:
            """Every answer gets its Vary; a successful one that is not a stream is held for its validators."""
            headers = MutableHeaders(scope=start)
            if path.startswith(LANGUAGE_VARIES):
                _add_vary(headers, "Accept-Language")
            media = headers.get("content-type", "").split(";")[0].strip().lower()
            return start["status"] == 200 and media not in STREAMED

        async def complete(start: Message, body: bytes) -> None:
            await self.finish(start, body, request_headers, path, scope, receive, send)

        await self.app(scope, receive, holding(send, pick, complete))

    async def finish(self, start: Message, body: bytes, request: Headers, path: str, scope: Scope,
                     receive: Receive, send: Send) -> None:
        headers = MutableHeaders(scope=start)
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        negotiated = "accept" in {v.strip().lower() for v in headers.get("vary", "").split(",")}
        accept = request.get("accept")
        if not negotiated and media and accept and negotiate(accept, {}, [media]) is None:
            # the route has one format; a route offering several negotiates (and says Vary: Accept) itself
            refusal = problem(406, f"this resource is offered only as {media}, which the Accept header "
                                   f"'{accept[:200]}' excludes", acceptable=[media])
            await refusal(scope, receive, send)
            return
        digest = hashlib.sha256(media.encode() + b"\0" + body).hexdigest()[:32]
        etag = f'W/"{digest}"'
        validators = {"etag": etag, "cache-control": headers.get("cache-control") or _policy(path)}
        modified = self.last_modified(path)
        if modified is not None:
            validators["last-modified"] = format_datetime(modified, usegmt=True)
        for name, value in validators.items():
            headers[name] = value
        if_none_match = request.get("if-none-match")
        if if_none_match is not None:
            fresh = _etag_matches(if_none_match, etag)
        else:
            since = request.get("if-modified-since")
            fresh = since is not None and modified is not None and _not_modified_since(since, modified)
        if fresh:
            kept = [(k, v) for k, v in start["headers"] if k.lower() not in (b"content-length", b"content-type")]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})


class HeadAsGet:
    """HEAD on every GET route: answered as the GET, headers kept and body dropped (RFC 9110 §9.3.2). It sits
    outside compression, so a HEAD's Content-Length and Content-Encoding are those of the GET."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def bodiless(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, bodiless)


class VersionHeader:
    """Every answer says which software and which KB release gave it (an RFC 8941 dictionary)."""

    def __init__(self, app: ASGIApp, software: str, release: str | None) -> None:
        self.app = app
        self.value = f'software="{software}", kb-release="{release or "unreleased"}"'

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["connectkb-version"] = self.value
            await send(message)

        await self.app(scope, receive, stamped)
