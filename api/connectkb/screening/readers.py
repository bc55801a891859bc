"""Bond universes → rows of facts, one at a time: CSV, JSON Lines or Parquet, from a file (`read_path`) or
from an HTTP body fed chunk by chunk (`BodyParser`). Shared by screening and index weights.

CSV: a column per input fact (named as `ck:jsonName`) plus an optional `id`; a list is `;`-separated; a
rating is `agency:grade` (`moodys:Baa3`); an empty cell is an absent fact. JSON Lines: one
`{"id": …, "facts": {…}}` a line. Parquet: columns as in CSV, either in CSV's text forms or typed (lists,
`{agency, grade}` structs, dates, numbers).

A row this layer can tell is bad (an unknown fact, a value of the wrong shape for its kind) becomes a `Row`
with a `RowError`, and reading goes on; whether a code is in its code list is left to the rules engine,
which says so with the list. `fact_types` maps each fact name to an object with `.kind` and `.multiple`:
`RulesEngine.input_facts`."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMATS = ("csv", "jsonl", "parquet")
_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
_CONTENT_TYPES = {"text/csv": "csv", "application/csv": "csv", "application/x-ndjson": "jsonl",
                  "application/jsonl": "jsonl", "application/json-lines": "jsonl", "application/ndjson": "jsonl",
                  "application/vnd.apache.parquet": "parquet", "application/x-parquet": "parquet",
                  "application/parquet": "parquet"}
ID_FIELD = "id"
LIST_SEPARATOR = ";"
RATING_SEPARATOR = ":"
PARQUET_BATCH = 20_000
_CACHE_LIMIT = 10_000  # distinct cell texts remembered per fact: a universe repeats its codes and grades


@dataclass(frozen=True)
class RowError:
    field: str
    message: str


@dataclass
class Row:
    number: int  # 1-based data row: the CSV header, blank JSON lines are not counted
    id: str
    facts: dict[str, Any] | None
    error: RowError | None = None


class InputError(ValueError):
    """The input as a whole cannot be read (no header, not Parquet, an unknown format)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


def format_for_path(path: str | Path, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise InputError("format", f"unknown format '{fmt}'; expected one of: {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise InputError("format", f"cannot tell the format of '{Path(path).name}' by its suffix; expected "
                                   f"{', '.join(_SUFFIXES)}")
    return _SUFFIXES[suffix]


def format_for_content_type(content_type: str | None) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in _CONTENT_TYPES:
        raise InputError("Content-Type", f"unsupported Content-Type '{media or '(none)'}'; expected text/csv, "
                                         "application/x-ndjson or application/vnd.apache.parquet")
    return _CONTENT_TYPES[media]


class _Bad(Exception):
    def __init__(self, message: str):
        self.message = message


class Cells:
    """Text cells (CSV, Parquet strings) and JSON values → the JSON values the rules engine takes."""

    def __init__(self, fact_types: Mapping[str, Any]):
        self.types = fact_types
        self.memo: dict[str, dict[str, Any]] = {name: {} for name in fact_types}  # per fact: text → value or _Bad

    def unknown(self, name: str) -> RowError:
        return RowError(name, f"unknown fact '{name}'; known facts: {', '.join(sorted(self.types))}")

    def text(self, name: str, text: str) -> Any:
        """One cell's text as a JSON value; raises _Bad saying what was expected."""
        memo = self.memo[name]
        hit = memo.get(text, _MISSING)
        if hit is _MISSING:
            try:
                fact = self.types[name]
                if fact.multiple:
                    hit = [_scalar(fact.kind, name, t.strip()) for t in text.split(LIST_SEPARATOR) if t.strip()]
                else:
                    hit = _scalar(fact.kind, name, text.strip())
            except _Bad as exc:
                hit = exc
            if len(memo) < _CACHE_LIMIT:
                memo[text] = hit
        if hit.__class__ is _Bad:
            raise hit
        return hit

    def value(self, name: str, value: Any, text_forms: bool) -> Any:
        """A typed value as the rules engine takes it: dates as ISO text; with `text_forms` (Parquet) a
        string is read as a CSV cell; otherwise (JSON Lines) only a rating has a text form to parse. Other
        shapes are left to the engine to judge, with its own message."""
        fact = self.types[name]
        if isinstance(value, str) and (text_forms or fact.kind == "rating"):
            return self.text(name, value)
        if isinstance(value, list):
            return [self._item(fact.kind, name, v) for v in value]
        return self._item(fact.kind, name, value)

    @staticmethod
    def _item(kind: str, name: str, value: Any) -> Any:
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, str) and kind == "rating":
            return _scalar(kind, name, value)
        return value


_MISSING = object()


def _scalar(kind: str, name: str, text: str) -> Any:
    if kind == "boolean":
        low = text.lower()
        if low in ("true", "false"):
            return low == "true"
        raise _Bad(f"'{name}' must be true or false, not '{text}'")
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise _Bad(f"'{name}' must be a whole number, not '{text}'") from None
    if kind == "decimal":
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            raise _Bad(f"'{name}' must be a number, not '{text}'") from None
        if not math.isfinite(number):
            raise _Bad(f"'{name}' must be a finite number, not '{text}'")
        return number
    if kind == "date":
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            raise _Bad(f"'{name}' must be a date YYYY-MM-DD, not '{text}'") from None
    if kind == "rating":
        agency, sep, grade = text.partition(RATING_SEPARATOR)
        if not sep or not agency.strip() or not grade.strip():
            raise _Bad(f"'{name}' must be a rating agency:grade (such as moodys:Baa3), not '{text}'")
        return {"agency": agency.strip(), "grade": grade.strip()}
    return text  # concept, entity, iso4217, string: the engine checks codes and ids


class _CsvRows:
    """CSV records (lists of cells, the header first) → Rows."""

    def __init__(self, fact_types: Mapping[str, Any]):
        self.cells = Cells(fact_types)
        self.header: list[str] | None = None
        self.width = 0
        self.id_at: int | None = None
        self.unknown_at: list[int] = []
        self.columns: list[tuple[int, str, dict[str, Any]]] = []
        self.number = 0

    def rows(self, records: Iterable[list[str]]) -> Iterator[Row]:
        cells = self.cells
        for record in records:
            if self.header is None:
                self._set_header(record)
                continue
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line
            self.number += 1
            number = self.number
            row_id = (record[self.id_at].strip() if self.id_at is not None and self.id_at < len(record) else "") \
                or str(number)
            if len(record) != self.width or any(record[i] for i in self.unknown_at):
                yield Row(number, row_id, None, self._misfit(record))
                continue
            facts: dict[str, Any] = {}
            try:
                for i, name, memo in self.columns:  # the hot loop: a cached value per distinct cell text
                    text = record[i]
                    if text:
                        value = memo.get(text, _MISSING)
                        if value is _MISSING or value.__class__ is _Bad:
                            value = cells.text(name, text)
                        facts[name] = value
            except _Bad as exc:
                yield Row(number, row_id, None, RowError(name, exc.message))
                continue
            yield Row(number, row_id, facts)

    def _misfit(self, record: list[str]) -> RowError:
        header = self.header or []
        if len(record) > len(header):
            return RowError(f"column {len(header) + 1}",
                            f"row has {len(record)} cells; the header names {len(header)} columns")
        bad = next((header[i] for i in self.unknown_at if i < len(record) and record[i]), None)
        if bad is not None:
            return self.cells.unknown(bad)
        return RowError(f"column {len(record) + 1}",
                        f"row has {len(record)} cells; the header names {len(header)} columns")

    def _set_header(self, record: list[str]) -> None:
        header = [h.strip() for h in record]
        if not any(header):
            raise InputError("header", "the CSV has no header row naming its columns")
        dup = sorted({h for h in header if h and header.count(h) > 1})
        if dup:
            raise InputError("header", f"the CSV header names column '{dup[0]}' twice")
        self.header = header
        self.width = len(header)
        self.id_at = header.index(ID_FIELD) if ID_FIELD in header else None
        known = self.cells.types
        self.unknown_at = [i for i, h in enumerate(header) if h and h != ID_FIELD and h not in known]
        self.columns = [(i, h, self.cells.memo[h]) for i, h in enumerate(header) if h in known]


class _JsonRows:
    def __init__(self, fact_types: Mapping[str, Any]):
        self.cells = Cells(fact_types)
        self.number = 0

    def row(self, line: bytes | str) -> Row | None:
        if not line.strip():
            return None
        self.number += 1
        number = self.number
        try:
            obj = json.loads(line)
        except ValueError as exc:
            return Row(number, str(number), None, RowError("line", f"not JSON: {exc.msg} at column {exc.colno}"))
        return self.obj(number, obj)

    def obj(self, number: int, obj: Any) -> Row:
        if not isinstance(obj, dict):
            return Row(number, str(number), None, RowError("line", 'expected an object {"id": …, "facts": {…}}'))
        raw_id = obj.get(ID_FIELD)
        row_id = str(number) if raw_id is None else str(raw_id)
        extra = sorted(set(obj) - {ID_FIELD, "facts"})
        if extra:
            return Row(number, row_id, None, RowError(extra[0], f"unexpected key '{extra[0]}'; a line is "
                                                                '{"id": …, "facts": {…}}'))
        facts = obj.get("facts")
        if not isinstance(facts, dict):
            return Row(number, row_id, None, RowError("facts", "expected an object of facts by name"))
        cells = self.cells
        out = {}
        for name, value in facts.items():
            if name not in cells.types:
                return Row(number, row_id, None, cells.unknown(name))
            if value is None:
                continue
            try:
                out[name] = cells.value(name, value, text_forms=False)
            except _Bad as exc:
                return Row(number, row_id, None, RowError(name, exc.message))
        return Row(number, row_id, out)


class _FrameRows:
    """Parquet batches (Polars frames) → Rows: columns as in CSV, typed or as text."""

    def __init__(self, fact_types: Mapping[str, Any]):
        self.cells = Cells(fact_types)
        self.number = 0
        self.checked = False

    def rows(self, frame: Any) -> Iterator[Row]:
        cells = self.cells
        names = frame.columns
        if not self.checked:
            dup = sorted({h for h in names if names.count(h) > 1})
            if dup:
                raise InputError("header", f"the Parquet file names column '{dup[0]}' twice")
            self.checked = True
        unknown = [n for n in names if n != ID_FIELD and n not in cells.types]
        for record in frame.iter_rows(named=True):
            self.number += 1
            number = self.number
            raw_id = record.get(ID_FIELD)
            row_id = str(number) if raw_id is None or raw_id == "" else str(raw_id)
            bad = next((n for n in unknown if record[n] is not None and record[n] != ""), None)
            if bad is not None:
                yield Row(number, row_id, None, cells.unknown(bad))
                continue
            facts: dict[str, Any] = {}
            error = None
            for name, value in record.items():
                if name == ID_FIELD or value is None or value == "" or name in unknown:
                    continue
                try:
                    facts[name] = cells.value(name, value, text_forms=True)
                except _Bad as exc:
                    error = RowError(name, exc.message)
                    break
            yield Row(number, row_id, None if error else facts, error)


def _parquet_frames(source: Any) -> Iterator[Any]:
    import polars as pl
    try:
        lazy = pl.scan_parquet(source)
        lazy.collect_schema()
    except Exception as exc:  # Polars says why in its own words; the caller names the field
        raise InputError("body", f"not a readable Parquet file ({type(exc).__name__})") from None
    yield from lazy.collect_batches(chunk_size=PARQUET_BATCH)


def read_path(path: str | Path, fact_types: Mapping[str, Any], fmt: str | None = None) -> Iterator[Row]:
    """Rows of a file, read as they are needed (Parquet by batches of row groups)."""
    fmt = format_for_path(path, fmt)
    if fmt == "parquet":
        reader = _FrameRows(fact_types)
        for frame in _parquet_frames(str(path)):
            yield from reader.rows(frame)
        return
    with open(path, encoding="utf-8-sig", newline="") as fh:
        if fmt == "csv":
            yield from _CsvRows(fact_types).rows(csv.reader(fh))
            return
        rows = _JsonRows(fact_types)
        for line in fh:
            row = rows.row(line)
            if row is not None:
                yield row


class BodyParser:
    """An HTTP body, fed chunk by chunk (`feed`, then `close`), → Rows as soon as their record is whole.
    CSV and JSON Lines hold only the unfinished record between chunks; Parquet keeps its footer at the
    end, so it is buffered whole (the caller's byte limit bounds it) and read on `close`."""

    def __init__(self, fact_types: Mapping[str, Any], fmt: str):
        if fmt not in FORMATS:
            raise InputError("format", f"unknown format '{fmt}'; expected one of: {', '.join(FORMATS)}")
        self.fmt = fmt
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._pending = ""
        self._quotes = 0  # '"' in the pending text: a newline inside quotes ends no CSV record
        self._buffer = io.BytesIO()
        self._csv = _CsvRows(fact_types) if fmt == "csv" else None
        self._json = _JsonRows(fact_types) if fmt == "jsonl" else None
        self._frames = _FrameRows(fact_types) if fmt == "parquet" else None
        self.bytes = 0

    def feed(self, chunk: bytes) -> list[Row]:
        self.bytes += len(chunk)
        if self.fmt == "parquet":
            self._buffer.write(chunk)
            return []
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise InputError("body", f"not UTF-8 text (byte {self.bytes - len(chunk) + exc.start + 1})") from None
        return self._lines(text, final=False)

    def close(self) -> list[Row]:
        """The rows still to come once the body has ended."""
        if self.fmt == "parquet":
            return list(self.drain())
        try:
            text = self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InputError("body", "not UTF-8 text (the body ends inside a character)") from None
        return self._lines(text, final=True)

    def drain(self) -> Iterator[Row]:
        """`close`, one row at a time: a Parquet body's rows are read from its buffer batch by batch."""
        if self.fmt != "parquet":
            yield from self.close()
            return
        buffer, self._buffer = self._buffer, io.BytesIO()
        if not buffer.getbuffer().nbytes:
            return
        buffer.seek(0)
        for frame in _parquet_frames(buffer):
            yield from self._frames.rows(frame)  # type: ignore[union-attr]

    def _lines(self, text: str, final: bool) -> list[Row]:
        if self.fmt == "jsonl":
            text = self._pending + text
            cut = len(text) if final else text.rfind("\n") + 1
            self._pending = text[cut:]
            # split on newlines only: JSON strings may hold U+2028 and other breaks str.splitlines knows
            rows = (self._json.row(line) for line in text[:cut].split("\n"))  # type: ignore[union-attr]
            return [r for r in rows if r is not None]
        cut = self._csv_cut(text, final)
        if not cut and not final:  # no record ends in this chunk
            self._pending += text
            self._quotes += text.count('"')
            return []
        whole, self._pending = self._pending + text[:cut], text[cut:]
        self._quotes = self._pending.count('"')
        if not whole:
            return []
        return list(self._csv.rows(csv.reader(io.StringIO(whole, newline=""))))  # type: ignore[union-attr]

    def _csv_cut(self, text: str, final: bool) -> int:
        """Where in `text` the last whole record of pending + text ends: after a newline with an even
        count of quotes before it (RFC 4180 doubles a quote inside a quoted field)."""
        if final:
            return len(text)
        if '"' not in text:
            return text.rfind("\n") + 1 if self._quotes % 2 == 0 else self._cut_by_lines(text)
        return self._cut_by_lines(text)

    def _cut_by_lines(self, text: str) -> int:
        quotes, pos, cut = self._quotes, 0, 0
        for line in text.splitlines(keepends=True):
            pos += len(line)
            quotes += line.count('"')
            if quotes % 2 == 0 and line.endswith(("\n", "\r")):
                cut = pos
        return cut
