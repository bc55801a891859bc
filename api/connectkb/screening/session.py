"""One streamed screening: body bytes in (`feed`, then `end`), answer bytes out, a chunk of rows at a time,
under a row limit. Synchronous and CPU-bound: the HTTP route runs each call in a worker thread."""

from __future__ import annotations

from collections.abc import Iterator

from .output import CsvWriter, NdjsonWriter
from .readers import BodyParser, Row
from .screen import Screener


class LimitExceeded(Exception):
    """A limit was passed: `status` is 413 (rows, bytes) or 503 (time); `output` holds the answers of the
    rows within the limit, still to send."""

    def __init__(self, status: int, field: str, message: str, output: bytes = b""):
        super().__init__(message)
        self.status, self.field, self.message, self.output = status, field, message, output


class Session:
    """`feed` body bytes (parsed into pending rows), then `step` until it answers None: each step screens
    one chunk of rows; `end` says the body is over, after which a step screens what is left."""

    def __init__(self, screener: Screener, parser: BodyParser, writer: CsvWriter | NdjsonWriter, max_rows: int,
                 chunk_rows: int):
        self.screener, self.parser, self.writer = screener, parser, writer
        self.max_rows, self.chunk_rows = max_rows, chunk_rows
        self.pending: list[Row] = []
        self.rows = 0
        self.ended = False
        self._rest: Iterator[Row] = iter(())

    def header(self) -> bytes:
        return self.writer.header()

    def feed(self, raw: bytes) -> None:
        self.pending += self.parser.feed(raw)

    def end(self) -> None:
        """The body is over: a Parquet body is read from its buffer batch by batch as steps need rows."""
        self.ended = True
        self._rest = self.parser.drain()

    def step(self) -> bytes | None:
        """The answers of the next chunk of rows, or None until there is a whole chunk (or, once the body has
        ended, when no row is left); raises LimitExceeded past the row limit."""
        if self.ended:
            for row in self._rest:
                self.pending.append(row)
                if len(self.pending) >= self.chunk_rows:
                    break
        if not self.pending or (len(self.pending) < self.chunk_rows and not self.ended):
            return None
        batch, self.pending = self.pending[:self.chunk_rows], self.pending[self.chunk_rows:]
        room = self.max_rows - self.rows
        over = len(batch) > room
        if over:
            batch, self.pending, self._rest = batch[:room], [], iter(())
        self.rows += len(batch)
        out = self.writer.chunk(self.screener.screen(batch)) if batch else b""
        if over:
            raise LimitExceeded(413, "body", f"the body has more than {self.max_rows} rows, the most one "
                                             "screening takes; split the universe", out)
        return out
