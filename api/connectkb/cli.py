"""connectkb: serve the API, validate the KB, evaluate rules, and read changes, releases and docs."""

from __future__ import annotations

import argparse
import datetime
import sys

from . import __version__


def _validate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .common import paths
    from .knowledge.load import check
    from .knowledge.loader import KBSyntaxError

    seeds = Path(args.seeds) if args.seeds else paths.seeds_dir()
    if args.skip_quotes:
        seeds = None
    elif seeds is None or not seeds.is_dir():
        where = (f"no folder {args.seeds}" if args.seeds
                 else f"none beside the checkout, and {paths.SEEDS_DIR_ENV} unset")
        print(f"the seed documents were not found ({where}): give --seeds DIR, set {paths.SEEDS_DIR_ENV}, "
              "or pass --skip-quotes to check the KB without its quotes", file=sys.stderr)
        return 1
    try:
        checked = check(seeds=seeds, check_quotes=seeds is not None)
    except KBSyntaxError as exc:
        print(f"the knowledge base cannot be parsed: {exc}")
        return 1
    print(checked.report.text)
    print(f"triples: {len(checked.store)}; parse {checked.timings['parse_s']:.2f}s, "
          f"SHACL {checked.timings['shacl_s']:.2f}s")
    return 0 if checked.report.ok else 1


def _serve(args: argparse.Namespace) -> int:
    from .app import create_app
    from .knowledge.entities import EntityService
    from .knowledge.load import KBInvalid, load
    from .knowledge.loader import KBSyntaxError
    from .knowledge.stores import RemoteStoreError
    from .rules.engine import RulesEngine
    from .serving import serve

    try:
        kb = load()
        # every rule's checks compile here: a broken one refuses the start like bad Turtle
        app = create_app(kb) if args.workers <= 1 else None
        if app is None:
            entities = EntityService(kb.backend)
            RulesEngine(kb.backend, entities.citations, entities.label_of)
    except (KBInvalid, KBSyntaxError, RemoteStoreError) as exc:
        print("connectkb refuses to start: the knowledge base does not pass its integrity checks.\n",
              file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return 1
    print(f"connectkb {__version__}: KB release {kb.release}, {kb.triple_count} triples, "
          f"loaded and validated in {kb.timings['total_s']:.2f}s; {args.workers} worker(s) on "
          f"http://{args.host}:{args.port}", file=sys.stderr)
    return serve(lambda: app or create_app(kb), args.host, args.port, args.workers, args.log_level)


def _eval(args: argparse.Namespace) -> int:
    import datetime as dt
    import json

    from .knowledge.entities import EntityService
    from .knowledge.load import KBInvalid, load
    from .rules.compiled.engine import CompiledRules
    from .rules.engine import FactError, RuleNotFound, RulesEngine

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
        if args.engine == "reference":
            answer, _ = engine.evaluate(args.rule, facts, as_of, args.lang)
        else:
            answer = CompiledRules(engine).evaluate(args.rule, facts, as_of, args.lang)
    except RuleNotFound:
        print(f"no rule '{args.rule}'; known rules: {', '.join(sorted(engine.rules))}", file=sys.stderr)
        return 2
    except FactError as exc:
        print(f"bad fact '{exc.field}': {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(answer, ensure_ascii=False, indent=2))
    return 0


def _release(args: argparse.Namespace) -> int:
    from .time.releases import write_snapshot

    path = write_snapshot(args.id, args.note, exclude=tuple(args.exclude or ()),
                          issued=_date(args.issued) if args.issued else None)
    print(f"wrote {path}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    import json

    from .time.releases import ReleaseStore, UnknownRelease, markdown

    store = ReleaseStore()
    try:
        diff = store.diff(args.a, args.b, args.lang)
    except UnknownRelease as exc:
        print(exc.message, file=sys.stderr)
        return 2
    print(markdown(diff, store.releases[args.b].issued) if args.markdown else json.dumps(diff, ensure_ascii=False,
                                                                                        indent=2))
    return 0


def _changelog(args: argparse.Namespace) -> int:
    from .time.releases import ReleaseStore, changelog

    sys.stdout.write(changelog(ReleaseStore()))
    return 0


def _date(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def _changes(args: argparse.Namespace) -> int:
    import json

    from .knowledge.entities import EntityService
    from .knowledge.load import load
    from .time.changes import BadPeriod, ChangesEngine, parse_window

    try:
        start, end = parse_window(args.from_, args.to)
    except BadPeriod as exc:
        print(exc.message, file=sys.stderr)
        return 2
    entities = EntityService(load().backend)
    items = ChangesEngine(entities.backend, entities).between(start, end, kind=args.kind, lang=args.lang)
    if args.json:
        print(json.dumps(items, ensure_ascii=False, indent=2))
    else:
        for item in items:
            print(f"{item['date']:<10}  {item['kind']:<9}  {item['summary']}")
        print(f"{len(items)} change(s) after {start} up to {end}")
    return 0


def _as_of(args: argparse.Namespace) -> int:
    from .common.ids import to_iri
    from .knowledge.entities import EntityService
    from .knowledge.load import load
    from .time.asof import AsOfView

    try:
        day = _date(args.date)
    except ValueError:
        print(f"'{args.date}' is not a date YYYY-MM-DD", file=sys.stderr)
        return 2
    kb = load()
    entities, view = EntityService(kb.backend), AsOfView(kb.backend)
    _, items = entities.search(args.type, None, args.lang, limit=100_000)
    if args.role:
        holding = {member: status for member, _, status in view.holders(to_iri(args.role), day)}
        rows = [(i, holding[i["iri"]]) for i in items if i["iri"] in holding]
    else:
        rows = [(i, st) for i in items if (st := view.status(i["iri"], day)) is None or st.holds]
    for item, status in rows:
        print(f"{item['id']:<45} {item['label'] or ''}" + (f"  [{status.state}: {status.reason}]" if status else ""))
    print(f"{len(rows)} on {day}")
    return 0


def _load(args: argparse.Namespace) -> int:
    from .knowledge.load import KBInvalid, load_into
    from .knowledge.stores import RemoteStoreError

    try:
        count = load_into(args.store, args.graph_store)
    except KBInvalid as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except RemoteStoreError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"loaded {count} triples into the default graph behind {args.store}")
    return 0


def _docs(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .docs.generator import DocsGenerator, differences, write
    from .knowledge.load import load

    kb = load()
    pages = DocsGenerator(kb.backend, kb.release).pages()
    out = Path(args.out)
    if args.check:
        problems = differences(out, pages)
        for problem in problems:
            print(problem)
        print(f"{len(pages)} pages: " + ("docs/ is out of date with the KB; run connectkb docs" if problems
                                         else "up to date"))
        return 1 if problems else 0
    written = write(out, pages)
    print(f"wrote {len(written)} pages under {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="connectkb", description=__doc__)
    parser.add_argument("--version", action="version", version=f"connectkb {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="validate the KB and serve the API on the embedded store")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes sharing the socket, each with its own store and SPARQL pool")
    serve.add_argument("--log-level", default="info", help="uvicorn's log level (default: info)")
    serve.set_defaults(func=_serve)
    validate = sub.add_parser("validate", help="check the KB (SHACL integrity, seed quotes); exit 1 on any problem, "
                                               "seeds not found included")
    validate.add_argument("--seeds", help="the seed documents' folder (default: $CONNECTKB_SEEDS_DIR, or "
                                          "../shared/seeds beside the checkout)")
    validate.add_argument("--skip-quotes", action="store_true",
                          help="check SHACL integrity only, without the seed documents")
    validate.set_defaults(func=_validate)
    evaluate = sub.add_parser("eval", help="evaluate an eligibility rule on facts given as JSON")
    evaluate.add_argument("rule", help="rule id, e.g. witness-account-opening")
    evaluate.add_argument("--facts", required=True, help='JSON object, e.g. \'{"age": 17}\'')
    evaluate.add_argument("--as-of", help="YYYY-MM-DD (default: today)")
    evaluate.add_argument("--lang", default="en", choices=["en", "zh"])
    evaluate.add_argument("--engine", default="compiled", choices=["compiled", "reference"],
                          help="compiled (default) or reference: pySHACL, the reference semantics")
    evaluate.set_defaults(func=_eval)
    release = sub.add_parser("release", help="freeze the working KB as a release snapshot in releases/")
    release.add_argument("id", help="release id, e.g. 2026.11.1 (the KB's ck:release)")
    release.add_argument("--note", required=True, help="what the release holds")
    release.add_argument("--exclude", action="append", help="a kb/ folder to leave out (e.g. beyond)")
    release.add_argument("--issued", help="YYYY-MM-DD (default: today)")
    release.set_defaults(func=_release)
    diff = sub.add_parser("diff", help="statements added, removed and changed between two releases")
    diff.add_argument("a")
    diff.add_argument("b")
    diff.add_argument("--markdown", action="store_true", help="a CHANGELOG section instead of JSON")
    diff.add_argument("--lang", default="en", choices=["en", "zh"])
    diff.set_defaults(func=_diff)
    log = sub.add_parser("changelog", help="print CHANGELOG.md, generated from the release diffs")
    log.set_defaults(func=_changelog)
    changes = sub.add_parser("changes", help="what changed between two dates (from < date <= to)")
    changes.add_argument("--from", dest="from_", required=True)
    changes.add_argument("--to", required=True)
    changes.add_argument("--kind", choices=["announced", "effective", "ended", "amended", "corrected"])
    changes.add_argument("--lang", default="en", choices=["en", "zh"])
    changes.add_argument("--json", action="store_true")
    changes.set_defaults(func=_changes)
    as_of = sub.add_parser("as-of", help="entities as they stood on a date")
    as_of.add_argument("date")
    as_of.add_argument("--type", help="class, e.g. CommercialBank")
    as_of.add_argument("--role", help="org:Role id, e.g. role-agent-witness-bank")
    as_of.add_argument("--lang", default="en", choices=["en", "zh"])
    as_of.set_defaults(func=_as_of)
    load = sub.add_parser("load", help="validate the KB and load it into an external SPARQL 1.1 store")
    load.add_argument("--store", required=True, help="the store's SPARQL query URL, e.g. http://127.0.0.1:7878/query")
    load.add_argument("--graph-store", help="its Graph Store Protocol URL (default: the query URL's …/store)")
    load.set_defaults(func=_load)
    docs = sub.add_parser("docs", help="generate docs/ (ontology reference, measures, rules, timeline) from the KB")
    docs.add_argument("--out", default="docs", help="the docs folder (default: docs)")
    docs.add_argument("--check", action="store_true", help="only compare; exit 1 if docs/ is out of date")
    docs.set_defaults(func=_docs)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
