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
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
