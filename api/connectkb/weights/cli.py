"""`connectkb weights INDEX FILE [--as-of D] [--json] [--lang]`: index weights of a bond universe
(CSV, JSON Lines or Parquet, as `connectkb screen` reads them) from a terminal."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..common.terminal import day_option, fail


def add_parser(sub: Any) -> None:
    p = sub.add_parser("weights", help="weights of the eligible bonds of a universe under an index's weighting rule")
    p.add_argument("index", help="index id; an unknown one is refused with the list of known ids")
    p.add_argument("file", help="the bonds: .csv (a column per fact, plus id), .jsonl ({\"id\", \"facts\"} a line) "
                                     "or .parquet")
    p.add_argument("--as-of", help="YYYY-MM-DD (default: today)")
    p.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    p.add_argument("--lang", default="en", choices=["en", "zh", "zh-Hant"],
                   help="language of labels and messages (zh-Hant falls back to Simplified where a text has no "
                        "Traditional form)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..engines import load_engines
    from ..knowledge.load import KBInvalid
    from ..screening.readers import InputError, read_path
    from .routes import bonds_from_rows
    from .service import BondsError, UnknownIndex, WeightsService

    try:
        as_of = day_option(args.as_of)
    except ValueError as exc:
        return fail(args, str(exc))
    try:
        _, engines = load_engines()
    except KBInvalid as exc:
        return fail(args, str(exc), 1)
    rules = engines.rules
    service = WeightsService(rules, engines.compiled)
    try:
        bonds = bonds_from_rows(list(read_path(args.file, rules.input_facts)))
        answer = service.weigh(args.index, bonds, as_of, args.lang)
    except UnknownIndex:
        return fail(args, f"no index '{args.index}'; known indices: {', '.join(service.index_ids())}")
    except (InputError, BondsError) as exc:
        where = getattr(exc, "field", None) or " ".join(str(x) for x in getattr(exc, "loc", []))
        return fail(args, f"bad input ({where}): {exc.message}")
    except OSError as exc:
        return fail(args, f"cannot read {args.file}: {exc.strerror}")
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
    else:
        print(render_text(answer))
    return 0


def render_text(answer: dict[str, Any]) -> str:
    lines = [f"{answer['index']['label']} ({answer['index']['id']}), as of {answer['as_of']}: {answer['status']}, "
             f"total weight {answer['total_weight']:.6f}"]
    if answer.get("eligibility"):
        e = answer["eligibility"]
        lines.append(f"{answer['bonds']} bonds: {e['eligible']} eligible, {e['ineligible']} ineligible, "
                     f"{e['undetermined']} undetermined")
    for c in answer["constituents"]:
        bucket = f"  [{c['bucket']}]" if c.get("bucket") else ""
        lines.append(f"  {c['id']:<30} {c['weight'] * 100:9.4f} %{'  capped' if c['capped'] else ''}{bucket}")
    for reason in answer["why_not"]:
        where = reason.get("bucket") or reason.get("of")
        bonds = [b if isinstance(b, str) else b["id"] for b in reason.get("bonds", [])]
        lines.append(f"why not: {reason['message']}" + (f" [{where}]" if where else "")
                     + (f" ({', '.join(bonds)})" if bonds else ""))
    applied = [r for r in answer["readings"] if r["applied"]]
    for r in applied:
        quote = "; ".join(c.get("quote") or "" for c in r["citations"])
        lines.append(f"reading applied: {r['summary']}\n  source: {quote}")
    return "\n".join(lines)
