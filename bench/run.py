"""connectkb benchmarks: prints the figures the issues ask for.

    python bench/run.py                # everything
    python bench/run.py cold-start     # one section

Figures are measured here, in one run, never asserted in tests.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def cold_start(runs: int = 5) -> None:
    """Load + validate, in process (by phase) and as a fresh `connectkb validate` process."""
    from connectkb.knowledge import load

    phases: dict[str, list[float]] = {}
    for _ in range(runs):
        kb = load()
        for name, seconds in kb.timings.items():
            phases.setdefault(name, []).append(seconds)
    print(f"cold start, in process ({runs} runs, {kb.triple_count} triples): " + ", ".join(
        f"{name} median {statistics.median(v):.3f}s" for name, v in phases.items()))
    walls = []
    for _ in range(max(2, runs // 2)):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "connectkb", "validate"], check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
    print(f"cold start, fresh process `connectkb validate` (imports + parse + SHACL + quotes): "
          f"median {statistics.median(walls):.3f}s, max {max(walls):.3f}s over {len(walls)} runs")


SECTIONS = {"cold-start": cold_start}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sections", nargs="*", choices=[*SECTIONS, []], default=[])
    args = parser.parse_args()
    for name in args.sections or SECTIONS:
        print(f"== {name}")
        SECTIONS[name]()


if __name__ == "__main__":
    main()
