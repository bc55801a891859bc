"""Screening answers as bytes: NDJSON or CSV, a chunk at a time, in row order (each row's rules in the
order screened; a bad row is one line of its own where its answers would be).

NDJSON: `{"row", "id", "rule", "verdict", "criteria": {criterion: outcome}, "missing_facts", "next_fact"}`;
a bad row `{"row", "id", "error": {"field", "message"}}`; a screening cut short ends with
`{"error": {"field", "message"}}`. CSV: `row,id,rule,verdict,missing_facts,next_fact,error_field,
error_message`, then one column per criterion of the rules screened (empty where a rule has none)."""

from __future__ import annotations

import io
import json
from typing import Any

import polars as pl

from .screen import Chunk

NDJSON = "application/x-ndjson"
CSV = "text/csv"
MEDIA_TYPES = {"jsonl": NDJSON, "csv": CSV}
_FIXED = ["row", "id", "rule", "verdict", "missing_facts", "next_fact", "error_field", "error_message"]


def _ordered(parts: list[pl.DataFrame], bad_rows: int) -> pl.DataFrame:
    """The rules' tables (and the bad rows') as one, in row order, each row's rules in order."""
    if not parts:
        return pl.DataFrame()
    stacked = pl.concat(parts, how="vertical")
    n, k = parts[0].height, len(parts)
    if bad_rows or any(p.height != n for p in parts):
        return stacked.sort(["row", "_k"], maintain_order=True)
    # every rule answers the same rows in the same order: interleave by position, no sort
    at = pl.int_range(0, n * k, dtype=pl.Int64, eager=True)
    return stacked[(at % k) * n + at // k]


def _joined(lines: pl.Series) -> bytes:
    """One line per value, written by Polars straight to bytes (a Python string of them costs three copies)."""
    buf = io.BytesIO()
    lines.to_frame().write_csv(buf, include_header=False, quote_style="never")
    return buf.getvalue()


class NdjsonWriter:
    media_type = NDJSON

    def __init__(self, rule_ids: list[str], criterion_columns: list[str]):
        self.rule_ids = rule_ids

    def header(self) -> bytes:
        return b""

    def chunk(self, chunk: Chunk) -> bytes:
        parts = []
        for k, rule_id in enumerate(self.rule_ids):
            frame = chunk.frames[rule_id]
            crit = [c for c in frame.columns if c not in ("row", "id", "verdict", "missing_facts", "next_fact")]
            line = pl.struct(pl.col("row"), pl.col("id"), pl.lit(rule_id).alias("rule"), pl.col("verdict"),
                             pl.struct(crit).alias("criteria") if crit else pl.lit(None).alias("criteria"),
                             pl.col("missing_facts"), pl.col("next_fact")).struct.json_encode()
            parts.append(frame.select("row", pl.lit(k, dtype=pl.Int32).alias("_k"), line.alias("line")))
        if chunk.errors.height:
            line = pl.struct(pl.col("row"), pl.col("id"),
                             pl.struct(pl.col("field"), pl.col("message")).alias("error")).struct.json_encode()
            parts.append(chunk.errors.select("row", pl.lit(-1, dtype=pl.Int32).alias("_k"), line.alias("line")))
        lines = _ordered(parts, chunk.errors.height)
        return _joined(lines["line"]) if lines.height else b""

    @staticmethod
    def final_error(field: str, message: str) -> bytes:
        return (json.dumps({"error": {"field": field, "message": message}}, ensure_ascii=False) + "\n").encode()


class CsvWriter:
    media_type = CSV

    def __init__(self, rule_ids: list[str], criterion_columns: list[str]):
        self.rule_ids = rule_ids
        self.columns = [*_FIXED, *criterion_columns]

    def header(self) -> bytes:
        buf = io.StringIO()
        pl.DataFrame(schema=dict.fromkeys(self.columns, pl.String)).write_csv(buf)
        return buf.getvalue().encode()

    def frame(self, chunk: Chunk) -> pl.DataFrame:
        """The chunk as one table of the CSV's columns, in row order."""
        parts = []
        for k, rule_id in enumerate(self.rule_ids):
            frame = chunk.frames[rule_id]
            have = set(frame.columns)
            parts.append(frame.select(
                pl.col("row"), pl.lit(k, dtype=pl.Int32).alias("_k"), pl.col("id"), pl.lit(rule_id).alias("rule"),
                pl.col("verdict"), pl.col("missing_facts").list.join(";"), pl.col("next_fact"),
                *[pl.lit(None, dtype=pl.String).alias(c) for c in ("error_field", "error_message")],
                *[(pl.col(c) if c in have else pl.lit(None, dtype=pl.String)).alias(c) for c in self.columns[8:]]))
        if chunk.errors.height:
            parts.append(chunk.errors.select(
                pl.col("row"), pl.lit(-1, dtype=pl.Int32).alias("_k"), pl.col("id"),
                *[pl.lit(None, dtype=pl.String).alias(c) for c in ("rule", "verdict", "missing_facts", "next_fact")],
                pl.col("field").alias("error_field"), pl.col("message").alias("error_message"),
                *[pl.lit(None, dtype=pl.String).alias(c) for c in self.columns[8:]]))
        table = _ordered(parts, chunk.errors.height)
        return table.drop("_k") if table.height else table

    def chunk(self, chunk: Chunk) -> bytes:
        table = self.frame(chunk)
        if not table.height:
            return b""
        buf = io.StringIO()
        table.write_csv(buf, include_header=False)
        return buf.getvalue().encode()

    def final_error(self, field: str, message: str) -> bytes:
        buf = io.StringIO()
        row: dict[str, Any] = dict.fromkeys(self.columns)
        row["error_field"], row["error_message"] = field, message
        pl.DataFrame([row], schema=dict.fromkeys(self.columns, pl.String)).write_csv(buf, include_header=False)
        return buf.getvalue().encode()


WRITERS = {"jsonl": NdjsonWriter, "csv": CsvWriter}
