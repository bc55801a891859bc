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

import _devimport  # noqa: E402, F401  (makes `connectkb` resolve to the checkout's api/)

from connectkb.common.namespaces import sparql_prologue  # noqa: E402
from connectkb.knowledge import load as knowledge  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run only checklist entries of this source (e.g. seed-003)")
    args = parser.parse_args()
    checked = knowledge.check(ROOT)
    graph = checked.graph
    print(f"parsed {len(graph)} triples in {checked.timings['parse_s']:.2f}s, SHACL {checked.timings['shacl_s']:.2f}s")
    print(checked.report.text[:30000])
    failures = 0 if checked.report.ok else 1
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
