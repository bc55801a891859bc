"""`connectkb screen FILE --rules 'index-*'`: a bond universe against rules, from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..common.terminal import day_option, fail
from .readers import BodyParser, InputError, Row, format_for_path, read_path

if TYPE_CHECKING:  # Polars is imported when a screening runs, not by every `connectkb` command
    from .screen import Screener

READ_BYTES = 1 << 20
_HEAD = {"en": ("rule", "eligible", "ineligible", "undetermined", "fails most", "missing most", "collect next"),
         "zh": ("规则", "符合资格", "不符合资格", "无法确定", "最常不满足的条件", "最常缺少的事实", "下一步应收集"),
         "zh-Hant": ("規則", "符合資格", "不符合資格", "無法確定", "最常不滿足的條件", "最常缺少的事實",
                     "下一步應收集")}
_DONE = {"en": "{rows} rows screened in {seconds:.2f}s, {bad} bad",
         "zh": "共筛查 {rows} 行，用时 {seconds:.2f} 秒，其中 {bad} 行有误",
         "zh-Hant": "共篩查 {rows} 行，用時 {seconds:.2f} 秒，其中 {bad} 行有誤"}
_NEXT = {"en": "collect next: {fact} (the next fact of {n} bond answers)",
         "zh": "下一步应收集：{fact}（{n} 个债券答案的下一事实）",
         "zh-Hant": "下一步應收集：{fact}（{n} 個債券答案的下一事實）"}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("screen", help="screen a bond universe (CSV, JSON Lines, Parquet) against rules")
    p.add_argument("file", help="bonds: .csv (a column per fact, plus id), .jsonl ({\"id\", \"facts\"}) or .parquet")
    p.add_argument("--rules", default="index-*", help="rule ids or globs, comma-separated (default: index-*)")
    p.add_argument("--as-of", help="YYYY-MM-DD (default: today)")
    p.add_argument("--out", help="write one row per bond and rule: results.csv, .jsonl or .parquet")
    p.add_argument("--format", choices=["csv", "jsonl", "parquet"], help="the input's format (default: by suffix)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--lang", default="en", choices=list(_HEAD), help="the summary's language and labels")
    p.set_defaults(func=run)


class _Progress:
    """A one-line bar on stderr, only when stderr is a terminal."""

    def __init__(self, total_bytes: int | None, stream: TextIO = sys.stderr):
        self.total, self.stream = total_bytes, stream
        self.on = stream.isatty()
        self.start = self.last = time.monotonic()

    def show(self, rows: int, done_bytes: int | None = None, final: bool = False) -> None:
        now = time.monotonic()
        if not self.on or (now - self.last < 0.1 and not final):
            return
        self.last = now
        rate = rows / max(now - self.start, 1e-9)
        if self.total and done_bytes is not None:
            share = min(done_bytes / self.total, 1.0)
            bar = "#" * int(share * 30)
            text = f"[{bar:<30}] {share:4.0%} {rows:,} rows, {rate:,.0f} rows/s"
        else:
            text = f"{rows:,} rows, {rate:,.0f} rows/s"
        self.stream.write("\r" + text + ("\n" if final else ""))
        self.stream.flush()


def _rows(path: Path, fact_types: Any, fmt: str, state: dict[str, int]) -> Iterator[Row]:
    if fmt == "parquet":
        yield from read_path(path, fact_types, fmt)
        return
    parser = BodyParser(fact_types, fmt)
    with open(path, "rb") as fh:
        while chunk := fh.read(READ_BYTES):
            state["bytes"] += len(chunk)
            yield from parser.feed(chunk)
    yield from parser.close()


class _Sink:
    """Where the per-bond rows go: a CSV or NDJSON file written chunk by chunk, or a Parquet file written
    at the end from the chunks' tables (Parquet's footer needs them all: the result buffer)."""

    def __init__(self, path: Path, screener: Screener):
        from .output import CsvWriter, NdjsonWriter
        self.kind = format_for_path(path)
        self.path = path
        self.csv = CsvWriter(screener.rule_ids, screener.criterion_columns)
        self.writer = self.csv if self.kind in ("csv", "parquet") else NdjsonWriter(
            screener.rule_ids, screener.criterion_columns)
        self.tables: list[Any] = []
        self.fh = None if self.kind == "parquet" else open(path, "wb")  # noqa: SIM115 (closed in close())
        if self.fh is not None:
            self.fh.write(self.writer.header())

    def add(self, chunk: Any) -> None:
        if self.fh is not None:
            self.fh.write(self.writer.chunk(chunk))
        else:
            table = self.csv.frame(chunk)
            if table.height:
                self.tables.append(table)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            return
        import polars as pl
        schema = {c: (pl.Int64 if c == "row" else pl.String) for c in self.csv.columns}
        table = pl.concat(self.tables, how="vertical") if self.tables else pl.DataFrame(schema=schema)
        table.write_parquet(self.path)


def run(args: argparse.Namespace) -> int:
    from ..engines import load_engines
    from ..knowledge.load import KBInvalid
    from .screen import NoRuleMatched, Screener, chunked, select_rules

    path = Path(args.file)
    try:
        as_of = day_option(args.as_of)
    except ValueError as exc:
        return fail(args, str(exc))
    for option, value, forced in (("FILE", path, args.format), ("--out", args.out, None)):
        try:
            fmt_ = format_for_path(value, forced) if value else None
        except InputError as exc:
            return fail(args, f"bad {option}: {exc.message}")
        if option == "FILE":
            fmt = fmt_ or "csv"
    if not path.is_file():
        return fail(args, f"no file '{path}'")
    try:
        _, engines = load_engines()
    except KBInvalid as exc:
        return fail(args, str(exc), 1)
    engine = engines.rules
    try:
        rule_ids = select_rules(engine.rules, args.rules)
    except NoRuleMatched as exc:
        return fail(args, str(exc))
    screener = Screener(engines.compiled, rule_ids, as_of)
    progress = _Progress(path.stat().st_size if fmt != "parquet" else None)
    state = {"bytes": 0}
    sink = _Sink(Path(args.out), screener) if args.out else None
    t0 = time.perf_counter()
    try:
        for batch in chunked(_rows(path, engine.input_facts, fmt, state)):
            chunk = screener.screen(batch)
            if sink is not None:
                sink.add(chunk)
            progress.show(screener.summary.rows, state["bytes"])
    except (InputError, UnicodeDecodeError) as exc:
        message = exc.message if isinstance(exc, InputError) else str(exc)
        return fail(args, f"cannot read {path}: {message}")
    finally:
        if sink is not None:
            sink.close()
    seconds = time.perf_counter() - t0
    progress.show(screener.summary.rows, state["bytes"], final=True)
    summary = screener.summary.to_dict(screener.labels(args.lang))
    summary.update({"rules_screened": rule_ids, "as_of": as_of.isoformat(), "seconds": round(seconds, 3)})
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print(table(summary, args.lang))
        if sink is not None:
            print(f"wrote {args.out}")
    return 0


def table(data: dict[str, Any], lang: str) -> str:
    """The summary as a text table: a line per rule, then the bad rows and the fact to collect next."""
    head = _HEAD[lang]
    lines = [[*head]]
    for r in data["rules"]:
        fails = ", ".join(f"{c['criterion']} ({c['bonds']})" for c in r["failing_criteria"][:3]) or "-"
        missing = ", ".join(f"{f['fact']} ({f['bonds']})" for f in r["missing_facts"][:3]) or "-"
        lines.append([r["rule"], str(r["eligible"]), str(r["ineligible"]), str(r["undetermined"]), fails, missing,
                      r["next_fact"] or "-"])
    widths = [max(_width(line[i]) for line in lines) for i in range(len(head))]

    def pad(cell: str, w: int, right: bool) -> str:
        gap = " " * (w - _width(cell))
        return gap + cell if right else cell + gap
    out = ["  ".join(pad(cell, w, 0 < i < 4) for i, (cell, w) in enumerate(zip(line, widths, strict=True))).rstrip()
           for line in lines]
    out.append(_DONE[lang].format(rows=data["rows"], seconds=data["seconds"], bad=data["bad_rows"])
               + ("" if not data["bad_rows_by_field"] else
                  " (" + ", ".join(f"{k}: {v}" for k, v in data["bad_rows_by_field"].items()) + ")"))
    if data["next_fact"]:
        out.append(_NEXT[lang].format(fact=data["next_fact"], n=data["next_fact_bonds"]))
    return "\n".join(out)


def _width(text: str) -> int:
    """Columns a terminal gives the text: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
