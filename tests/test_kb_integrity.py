"""The KB passes its own shapes, and every seed quote is a verbatim excerpt of its seed."""

from __future__ import annotations

from pathlib import Path

from connectkb.knowledge.load import LoadedKB, check


def test_the_kb_conforms_to_its_integrity_shapes(kb: LoadedKB) -> None:
    assert kb.report.conforms, kb.report.text


def test_every_seed_quote_occurs_verbatim_in_its_seed(seeds: Path) -> None:
    report = check(seeds=seeds).report
    assert report.quotes_checked and report.quotes_checked > 300, report.text
    assert report.quote_problems == [], report.text


def test_the_kb_carries_its_release(kb: LoadedKB) -> None:
    assert kb.release and kb.release[0].isdigit()
