"""The `connectkb` command: serve, validate (later issues add more verbs)."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _validate(args: argparse.Namespace) -> int:
    from .knowledge import check
    from .loader import KBSyntaxError

    try:
        checked = check()
    except KBSyntaxError as exc:
        print(f"the knowledge base cannot be parsed: {exc}")
        return 1
    print(checked.report.text)
    print(f"triples: {len(checked.parsed.triples)}; parse {checked.timings['parse_s']:.2f}s, "
          f"SHACL {checked.timings['shacl_s']:.2f}s")
    return 0 if checked.report.ok else 1


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .knowledge import KBInvalid, load
    from .loader import KBSyntaxError

    try:
        kb = load()
    except (KBInvalid, KBSyntaxError) as exc:
        print("connectkb refuses to start: the knowledge base does not pass its integrity checks.\n",
              file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return 1
    print(f"connectkb {__version__}: KB release {kb.release}, {kb.triple_count} triples, "
          f"loaded and validated in {kb.timings['total_s']:.2f}s", file=sys.stderr)
    uvicorn.run(create_app(kb), host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _eval(args: argparse.Namespace) -> int:
    import datetime as dt
    import json

    from .entities import EntityService
    from .knowledge import KBInvalid, load
    from .rules import FactError, RuleNotFound, RulesEngine

    try:
        facts = json.loads(args.facts)
        as_of = dt.date.fromisoformat(args.as_of) if args.as_of else dt.date.today()
    except (json.JSONDecodeError, ValueError) as exc:
        print(f"bad input: {exc}", file=sys.stderr)
        return 2
    try:
        kb = load()
    except KBInvalid as exc:
        print(str(exc), file=sys.stderr)
        return 1
    entities = EntityService(kb.backend)
    engine = RulesEngine(kb.backend, entities.citations, entities.label_of)
    try:
        answer, _ = engine.evaluate(args.rule, facts, as_of, args.lang)
    except RuleNotFound:
        print(f"no rule '{args.rule}'; known rules: {', '.join(sorted(engine.rules))}", file=sys.stderr)
        return 2
    except FactError as exc:
        print(f"bad fact '{exc.field}': {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(answer, ensure_ascii=False, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="connectkb", description=__doc__)
    parser.add_argument("--version", action="version", version=f"connectkb {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="validate the KB and serve the API on the embedded store")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=_serve)
    validate = sub.add_parser("validate", help="check the KB (SHACL integrity, seed quotes); exit 1 if it fails")
    validate.set_defaults(func=_validate)
    evaluate = sub.add_parser("eval", help="evaluate an eligibility rule on facts given as JSON")
    evaluate.add_argument("rule", help="rule id, e.g. witness-account-opening")
    evaluate.add_argument("--facts", required=True, help='JSON object, e.g. \'{"age": 17}\'')
    evaluate.add_argument("--as-of", help="YYYY-MM-DD (default: today)")
    evaluate.add_argument("--lang", default="en", choices=["en", "zh"])
    evaluate.set_defaults(func=_eval)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
