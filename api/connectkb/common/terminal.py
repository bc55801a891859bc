"""What the command line prints: JSON for programs (`--json`, or any pipe where a verb's answer is JSON
by tradition), aligned tables for people, and the nearest known names when a name is unknown."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def fail(args: Any, message: str, code: int = 2) -> int:
    """An error: on stderr for people, and as JSON on stdout too under --json, so that a program reads it.
    Returns the exit code (2: bad input; 1: a knowledge base that does not conform)."""
    if getattr(args, "json", False):
        print_json({"error": message})
    print(message, file=sys.stderr)
    return code


def day_option(text: str | None, option: str = "--as-of") -> dt.date:
    """A date option (today where not given); ValueError names the option and what it expects."""
    try:
        return dt.date.fromisoformat(text) if text else dt.date.today()
    except ValueError:
        raise ValueError(f"bad {option} '{text}': expected a date YYYY-MM-DD") from None


def on_terminal() -> bool:
    return sys.stdout.isatty()


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An aligned plain-text table; columns as wide as their widest cell (wide CJK characters count twice)."""
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([_width(h), *(_width(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def nearest(name: str, known: Iterable[str], n: int = 5) -> list[str]:
    """The known names closest to a mistyped one (case-insensitive), best first."""
    by_lower = {k.lower(): k for k in known}
    return [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.4)]


def unknown_name(kind: str, name: str, known: Iterable[str]) -> str:
    close = nearest(name, known)
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    return f"unknown {kind} '{name}'{hint}"
