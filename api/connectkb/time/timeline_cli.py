"""`connectkb timeline RULE --facts JSON --from D --to D [--json] [--as-known-at RELEASE]`: a verdict's
intervals between two days, each boundary with the dated statement that moves it."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from ..common.terminal import fail


def add_parser(sub: Any) -> None:
    timeline = sub.add_parser("timeline", help="a rule's verdict for one fact set across a period, interval by "
                                               "interval, each change with its dated source")
    timeline.add_argument("rule", help="rule id, e.g. collateral-otcc-margin")
    timeline.add_argument("--facts", required=True, help='JSON object, e.g. \'{"bond_type": "policy-bank-bond"}\'')
    timeline.add_argument("--from", dest="from_", required=True, help="first day, YYYY-MM-DD")
    timeline.add_argument("--to", required=True, help="last day, YYYY-MM-DD")
    timeline.add_argument("--as-known-at", help="a release id: answer from that frozen release's KB and rules")
    timeline.add_argument("--lang", default="en", choices=["en", "zh", "zh-Hant"],
                          help="language of labels and messages")
    timeline.add_argument("--json", action="store_true", help="print the API's JSON answer (errors too, as "
                                                              "{\"error\"})")
    timeline.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..knowledge.load import KBInvalid, load
    from ..rules.engine import FactError, RuleNotFound
    from .known_at import KnownAt, engines_for
    from .releases import ReleaseStore, UnknownRelease
    from .timeline import TimelineError

    try:
        facts = json.loads(args.facts)
        start, end = dt.date.fromisoformat(args.from_), dt.date.fromisoformat(args.to)
        if not isinstance(facts, dict):
            raise ValueError("--facts must be a JSON object")
    except (json.JSONDecodeError, ValueError) as exc:
        return fail(args, f"bad input: {exc}", 2)
    try:
        kb = load()
    except KBInvalid as exc:
        return fail(args, str(exc), 1)
    releases = ReleaseStore()
    known = KnownAt(releases, engines_for(kb.backend, kb.release, None, True))
    try:
        if args.as_known_at and args.as_known_at != kb.release:
            releases.get(args.as_known_at, "as-known-at")
        engines = known.get(args.as_known_at)
        answer = engines.timelines.timeline(args.rule, facts, start, end, args.lang)
    except UnknownRelease as exc:
        return fail(args, exc.message, 2)
    except RuleNotFound:
        return fail(args, f"no rule '{args.rule}'", 2)
    except (FactError, TimelineError) as exc:
        return fail(args, f"{exc.field}: {exc.message}", 2)
    answer["known_at"] = engines.named()
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
        return 0
    print(f"{answer['rule']}: {answer['label']} (release {engines.release}, {answer['engine']} engine)")
    for item in answer["intervals"]:
        print(f"{item['from']} … {item['to']}  {item['verdict']}")
        change = item.get("change")
        if change:
            moved = ", ".join(f"{c['criterion']} {c['from']} → {c['to']}" for c in change["criteria"])
            print(f"    changed: {moved}")
            for b in change["because"]:
                cited = "; ".join(filter(None, (c.get("locator") for c in b["citations"])))
                print(f"    because {b['subject']['id']} {b['property']} {b['date']} ({b['moves']})"
                      + (f" [{cited}]" if cited else ""))
        for unstated in (item.get("open") or {}).get("not_stated", []):
            print(f"    not stated: {unstated['property']} of {unstated['subject']['id']}"
                  + (f": {unstated['notes'][0]}" if unstated["notes"] else ""))
    return 0
