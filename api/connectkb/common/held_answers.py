"""Middleware that must see a whole answer before it is sent (to digest it, or to rewrite it) holds the
answers it picks by their start, and passes every other message straight on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import Message, Send


def holding(send: Send, pick: Callable[[Message], bool],
            complete: Callable[[Message, bytes], Awaitable[None]]) -> Send:
    """A `send` for the app below: an answer whose start `pick` chooses is held until its body is whole,
    then given to `complete(start, body)`, which sends it; other answers go on as they come."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def intercept(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            if pick(message):
                start = message
            else:
                await send(message)
            return
        if start is None or message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            await complete(start, b"".join(chunks))

    return intercept
