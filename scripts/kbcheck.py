"""Developer check of the KB from a checkout: parse, seed quotes, SHACL integrity, fact checklists.

    python scripts/kbcheck.py [--only seed-000]

It reads the Turtle straight from the working tree, so it needs no install beyond the libraries.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from _devimport import connectkb  # noqa: E402

from connectkb import paths, quotes  # noqa: E402
from connectkb.namespaces import sparql_prologue  # noqa: E402
from connectkb.turtle import parse_files  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run only checklist entries of this source (e.g. seed-003)")
    args = parser.parse_args()
    graph = parse_files(paths.turtle_files(ROOT))
    print(f"parsed {len(graph)} triples")
    failures = 0
    seeds = paths.seeds_dir()
    if seeds:
        checked, problems = quotes.check_quotes(graph, seeds)
        print(f"quotes: {checked} checked, {len(problems)} not found")
        for p in problems:
            print("  ", p)
        failures += len(problems)
    shape_files = paths.shapes_files(ROOT)
    if shape_files:
        from connectkb.integrity import validate_graph

        report = validate_graph(graph, shape_files)
        print(f"SHACL integrity: {'conforms' if report.conforms else 'DOES NOT CONFORM'}")
        if not report.conforms:
            print(report.text[:20000])
            failures += 1
    prologue = sparql_prologue()
    for yml in sorted((ROOT / "tests" / "checklist").glob("*.yaml")):
        entries = yaml.safe_load(yml.read_text(encoding="utf-8")) or []
        bad = 0
        for entry in entries:
            if args.only and entry.get("source") != args.only:
                continue
            try:
                ok = bool(graph.query(prologue + entry["ask"]).askAnswer)
            except Exception as exc:
                print(f"  {yml.name} {entry.get('id')}: query error {exc}")
                bad += 1
                continue
            if not ok:
                print(f"  {yml.name} {entry['id']}: NOT FOUND — {entry['fact']}")
                bad += 1
        print(f"checklist {yml.name}: {len(entries)} entries, {bad} failing")
        failures += bad
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
