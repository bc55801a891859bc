"""connectkb: serve the API, validate the KB, evaluate rules, and read changes, releases and docs."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from typing import Any

from . import __version__
from .common.terminal import day_option, fail, on_terminal, print_json, table, unknown_name
from .screening import cli as screening_cli
from .time import timeline_cli
from .weights import cli as weights_cli


def _validate(args: argparse.Namespace) -> int:
    import atexit
    import gc
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
        message = (f"the seed documents were not found ({where}): give --seeds DIR, set {paths.SEEDS_DIR_ENV}, "
                   "or pass --skip-quotes to check the KB without its quotes")
        fail(args, message)
        return 1
    # Validation keeps what it makes (some 200,000 objects) until it ends, and makes little garbage: the
    # collector's passes over them find nothing (~0.15 s), nor its last one on the way out (frozen objects
    # are not walked)
    collecting = gc.isenabled()
    gc.disable()
    atexit.register(gc.freeze)
    try:
        # the rules compile while the integrity checks run; a KB that does not conform shows no rules
        checked = check(seeds=seeds, check_quotes=seeds is not None, meanwhile=_compile_rules)
    except KBSyntaxError as exc:
        if args.json:
            print_json({"ok": False, "error": f"the knowledge base cannot be parsed: {exc}"})
        else:
            print(f"the knowledge base cannot be parsed: {exc}")
        return 1
    finally:
        if collecting:
            gc.enable()
    report = checked.report
    engines: dict[str, Any] = {}
    if report.conforms and checked.meanwhile is not None:
        engines, seconds = checked.meanwhile.result()
        if seconds is not None:
            checked.timings["compile_s"] = seconds
    ok = report.ok and "problems" not in engines
    if args.json:
        print_json({"ok": ok, "conforms": report.conforms, "violations": [str(v) for v in report.violations],
                    "quotes_checked": report.quotes_checked, "quote_problems": report.quote_problems,
                    "rules": engines, "triples": len(checked.store),
                    "timings_s": {k: round(v, 3) for k, v in checked.timings.items()}})
        return 0 if ok else 1
    print(report.text)
    if "problems" in engines:
        print(f"rules: do not compile\n{engines['problems']}")
    elif engines:
        print(f"rules: {engines['count']} compiled ({engines['compiled']} by the compiled engine, "
              f"{engines['reference']} served by the reference engine)")
    print(f"triples: {len(checked.store)}; parse {checked.timings['parse_s']:.2f}s, "
          f"SHACL {checked.timings['shacl_s']:.2f}s" + (f", rules compile {checked.timings['compile_s']:.2f}s"
                                                       if "compile_s" in checked.timings else ""))
    return 0 if ok else 1


def _compile_rules(store: Any) -> tuple[dict[str, Any], float | None]:
    """Compile every rule as the service does at start-up: a rule whose checks do not compile fails validation.
    Returns what validation reports of the rules, and the seconds the compile took (None if it failed)."""
    import time

    from .engines import build_engines
    from .knowledge.stores import EmbeddedStore
    from .rules.engine import RuleChecksInvalid

    t0 = time.perf_counter()
    try:
        engines = build_engines(EmbeddedStore(store))
    except RuleChecksInvalid as exc:
        return {"problems": str(exc)}, None
    rules, compiled = engines.rules, engines.compiled
    seconds = time.perf_counter() - t0
    by_engine = [compiled.engine_for(rule_id)[0] for rule_id in rules.rules]
    return {"count": len(by_engine), "compiled": by_engine.count("compiled"),
            "reference": by_engine.count("reference")}, seconds


def _serve(args: argparse.Namespace) -> int:
    from .app import create_app
    from .engines import build_engines
    from .knowledge.load import KBInvalid, load
    from .knowledge.loader import KBSyntaxError
    from .knowledge.stores import RemoteStoreError
    from .serving import serve

    try:
        kb = load()
        # every rule's checks compile here, once: a broken one refuses the start like bad Turtle, and
        # forked workers share the compiled engines
        engines = build_engines(kb.backend)
        engines.warm()
    except (KBInvalid, KBSyntaxError, RemoteStoreError) as exc:
        if args.json:
            print_json({"serving": False, "error": "the knowledge base does not pass its integrity checks",
                        "report": str(exc)})
            return 1
        print("connectkb refuses to start: the knowledge base does not pass its integrity checks.\n",
              file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return 1
    if args.json:  # one line a supervisor can read before the server's own log starts
        print(json.dumps({"serving": True, "version": __version__, "release": kb.release,
                          "triples": kb.triple_count, "load_s": round(kb.timings["total_s"], 3),
                          "workers": args.workers, "url": f"http://{args.host}:{args.port}"}), flush=True)
    else:
        print(f"connectkb {__version__}: KB release {kb.release}, {kb.triple_count} triples, "
              f"loaded and validated in {kb.timings['total_s']:.2f}s; {args.workers} worker(s) on "
              f"http://{args.host}:{args.port}", file=sys.stderr)
    return serve(lambda: create_app(kb, engines=engines), args.host, args.port, args.workers, args.log_level)


def _eval(args: argparse.Namespace) -> int:
    from .engines import load_engines
    from .knowledge.load import KBInvalid
    from .rules.engine import FactError, RuleNotFound

    try:
        facts = json.loads(args.facts)
        as_of = day_option(args.as_of)
    except (json.JSONDecodeError, ValueError) as exc:
        return fail(args, f"bad input: {exc}")
    try:
        _, engines = load_engines()
    except KBInvalid as exc:
        return fail(args, str(exc), 1)
    engine = engines.rules
    try:
        if args.engine == "reference":
            answer, _ = engine.evaluate(args.rule, facts, as_of, args.lang)
        else:
            answer = engines.compiled.evaluate(args.rule, facts, as_of, args.lang)
    except RuleNotFound:
        fail(args, unknown_name("rule", args.rule, engine.rules) + f" Known rules: {', '.join(sorted(engine.rules))}")
        return 2
    except FactError as exc:
        fail(args, f"bad fact '{exc.field}': {exc.message}")
        return 2
    if args.json or not on_terminal():  # a pipe has always been given the API's JSON answer
        print_json(answer)
        return 0
    print(f"{answer['rule']} on {answer['as_of']}: {answer['verdict']}")
    print(table(["criterion", "outcome", "message"],
                [(c["id"], c["outcome"], c.get("message") or "") for c in answer["criteria"]]))
    if answer.get("missing_facts"):
        print(f"missing facts: {', '.join(str(f) for f in answer['missing_facts'])}")
    return 0


def _release(args: argparse.Namespace) -> int:
    from .time.releases import write_snapshot

    path = write_snapshot(args.id, args.note, exclude=tuple(args.exclude or ()),
                          issued=_date(args.issued) if args.issued else None)
    if args.json:
        print_json({"release": args.id, "path": str(path)})
    else:
        print(f"wrote {path}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from .time.releases import ReleaseStore, UnknownRelease, markdown

    store = ReleaseStore()
    try:
        diff = store.diff(args.a, args.b, args.lang)
    except UnknownRelease as exc:
        fail(args, exc.message)
        return 2
    if args.markdown and not args.json:
        print(markdown(diff, store.releases[args.b].issued))
    else:
        print_json(diff)
    return 0


def _changelog(args: argparse.Namespace) -> int:
    from .time.releases import ReleaseStore, changelog

    store = ReleaseStore()
    if args.json:
        print_json({"releases": store.listing(None), "changelog": changelog(store)})
    else:
        sys.stdout.write(changelog(store))
    return 0


def _date(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def _changes(args: argparse.Namespace) -> int:
    from .knowledge.entities import EntityService
    from .knowledge.load import load
    from .time.changes import BadPeriod, ChangesEngine, parse_window

    try:
        start, end = parse_window(args.from_, args.to)
    except BadPeriod as exc:
        fail(args, exc.message)
        return 2
    entities = EntityService(load().backend)
    items = ChangesEngine(entities.backend, entities).between(start, end, kind=args.kind, lang=args.lang)
    if args.json:
        print_json(items)
    else:
        print(table(["date", "kind", "summary"], [(i["date"], i["kind"], i["summary"]) for i in items]))
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
        fail(args, f"'{args.date}' is not a date YYYY-MM-DD")
        return 2
    kb = load()
    entities, view = EntityService(kb.backend), AsOfView(kb.backend)
    _, everything = entities.search(None, None, args.lang, limit=100_000)
    if args.type and not entities.type_matches(args.type):
        known_types = {t.split(":")[-1] for e in everything for t in e["types"]}
        fail(args, unknown_name("type", args.type, known_types))
        return 2
    roles = {e["id"] for e in everything if "org:Role" in e["types"]}
    if args.role and args.role not in roles:
        fail(args, unknown_name("role", args.role, roles))
        return 2
    _, items = entities.search(args.type, None, args.lang, limit=100_000)
    if args.role:
        holding = {member: status for member, _, status in view.holders(to_iri(args.role), day)}
        rows = [(i, holding[i["iri"]]) for i in items if i["iri"] in holding]
    else:
        rows = [(i, st) for i in items if (st := view.status(i["iri"], day)) is None or st.holds]
    if args.json:
        print_json({"as_of": day.isoformat(), "type": args.type, "role": args.role,
                    "items": [{**i, "status": st.as_json() if st else None} for i, st in rows]})
        return 0
    print(table(["id", "label", "status"], [(i["id"], i["label"] or "", f"{st.state}: {st.reason}" if st else "")
                                            for i, st in rows]))
    print(f"{len(rows)} on {day}")
    return 0


def _load(args: argparse.Namespace) -> int:
    from .knowledge.load import KBInvalid, load_into
    from .knowledge.stores import RemoteStoreError

    try:
        count = load_into(args.store, args.graph_store)
    except (KBInvalid, RemoteStoreError) as exc:
        fail(args, str(exc))
        return 1
    if args.json:
        print_json({"store": args.store, "triples": count})
    else:
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
        if args.json:
            print_json({"pages": len(pages), "up_to_date": not problems, "problems": problems})
            return 1 if problems else 0
        for problem in problems:
            print(problem)
        print(f"{len(pages)} pages: " + ("docs/ is out of date with the KB; run connectkb docs" if problems
                                         else "up to date"))
        return 1 if problems else 0
    written = write(out, pages)
    if args.json:
        print_json({"out": str(out), "written": [str(p) for p in written]})
    else:
        print(f"wrote {len(written)} pages under {out}")
    return 0


LANG_HELP = "language of labels and messages (default: en)"


def _json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON (errors too, as {{\"error\"}})")


def _parser() -> tuple[argparse.ArgumentParser, Any]:
    parser = argparse.ArgumentParser(prog="connectkb", description=__doc__)
    parser.add_argument("--version", action="version", version=f"connectkb {__version__}",
                        help="print the software version and exit")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="validate the KB and serve the API on the embedded store")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes sharing the socket, each with its own store and SPARQL pool")
    serve.add_argument("--log-level", default="info", help="uvicorn's log level (default: info)")
    _json_flag(serve, "the start-up line (release, triples, URL)")
    serve.set_defaults(func=_serve)
    validate = sub.add_parser("validate", help="check the KB (SHACL integrity, seed quotes); exit 1 on any problem, "
                                               "seeds not found included")
    validate.add_argument("--seeds", help="the seed documents' folder (default: $CONNECTKB_SEEDS_DIR, or "
                                          "../shared/seeds beside the checkout)")
    validate.add_argument("--skip-quotes", action="store_true",
                          help="check SHACL integrity only, without the seed documents")
    _json_flag(validate, "the report")
    validate.set_defaults(func=_validate)
    evaluate = sub.add_parser("eval", help="evaluate an eligibility rule on facts given as JSON")
    evaluate.add_argument("rule", help="rule id, e.g. witness-account-opening")
    evaluate.add_argument("--facts", required=True, help='JSON object, e.g. \'{"age": 17}\'')
    evaluate.add_argument("--as-of", help="YYYY-MM-DD (default: today)")
    evaluate.add_argument("--lang", default="en", choices=["en", "zh", "zh-Hant"], help=LANG_HELP)
    evaluate.add_argument("--engine", default="compiled", choices=["compiled", "reference"],
                          help="compiled (default) or reference: pySHACL, the reference semantics")
    _json_flag(evaluate, "the answer, as the API gives it (the default when the output is not a terminal)")
    evaluate.set_defaults(func=_eval)
    release = sub.add_parser("release", help="freeze the working KB as a release snapshot in releases/")
    release.add_argument("id", help="release id, e.g. 2026.11.1 (the KB's ck:release)")
    release.add_argument("--note", required=True, help="what the release holds")
    release.add_argument("--exclude", action="append", help="a kb/ folder to leave out (e.g. beyond)")
    release.add_argument("--issued", help="YYYY-MM-DD (default: today)")
    _json_flag(release, "the snapshot written")
    release.set_defaults(func=_release)
    diff = sub.add_parser("diff", help="statements added, removed and changed between two releases")
    diff.add_argument("a", help="the earlier release id, e.g. 2026.11.0")
    diff.add_argument("b", help="the later release id, e.g. 2026.11.1")
    diff.add_argument("--markdown", action="store_true", help="a CHANGELOG section instead of JSON")
    diff.add_argument("--lang", default="en", choices=["en", "zh", "zh-Hant"], help=LANG_HELP)
    _json_flag(diff, "the diff (the default without --markdown)")
    diff.set_defaults(func=_diff)
    log = sub.add_parser("changelog", help="print CHANGELOG.md, generated from the release diffs")
    _json_flag(log, "the releases and the changelog text")
    log.set_defaults(func=_changelog)
    changes = sub.add_parser("changes", help="what changed between two dates (from < date <= to)")
    changes.add_argument("--from", dest="from_", required=True, help="YYYY-MM-DD: changes after this day")
    changes.add_argument("--to", required=True, help="YYYY-MM-DD: changes up to and including this day")
    changes.add_argument("--kind", choices=["announced", "effective", "ended", "amended", "corrected"],
                         help="only changes of this kind")
    changes.add_argument("--lang", default="en", choices=["en", "zh", "zh-Hant"], help=LANG_HELP)
    _json_flag(changes, "the changes")
    changes.set_defaults(func=_changes)
    as_of = sub.add_parser("as-of", help="entities as they stood on a date")
    as_of.add_argument("date", help="YYYY-MM-DD")
    as_of.add_argument("--type", help="class, e.g. CommercialBank (an unknown one exits 2 with the nearest names)")
    as_of.add_argument("--role", help="org:Role id, e.g. role-agent-witness-bank (an unknown one exits 2 with the "
                                      "nearest names)")
    as_of.add_argument("--lang", default="en", choices=["en", "zh", "zh-Hant"], help=LANG_HELP)
    _json_flag(as_of, "the entities and their status")
    as_of.set_defaults(func=_as_of)
    load = sub.add_parser("load", help="validate the KB and load it into an external SPARQL 1.1 store")
    load.add_argument("--store", required=True, help="the store's SPARQL query URL, e.g. http://127.0.0.1:7878/query")
    load.add_argument("--graph-store", help="its Graph Store Protocol URL (default: the query URL's …/store)")
    _json_flag(load, "the count loaded")
    load.set_defaults(func=_load)
    docs = sub.add_parser("docs", help="generate docs/ (ontology reference, measures, rules, timeline) from the KB")
    docs.add_argument("--out", default="docs", help="the docs folder (default: docs)")
    docs.add_argument("--check", action="store_true", help="only compare; exit 1 if docs/ is out of date")
    _json_flag(docs, "the pages written or out of date")
    docs.set_defaults(func=_docs)
    timeline_cli.add_parser(sub)
    screening_cli.add_parser(sub)
    weights_cli.add_parser(sub)
    return parser, sub


def main(argv: list[str] | None = None) -> int:
    parser, _ = _parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        # the reader (`| head`) has gone: stop quietly, and keep Python's flush at exit from raising again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command a pipe closed on


if __name__ == "__main__":
    sys.exit(main())
