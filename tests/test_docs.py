"""docs/ is generated from the KB: regenerating it changes nothing, so CI catches drift."""

from __future__ import annotations

import subprocess
import sys

from connectkb.docs.generator import DocsGenerator, differences
from connectkb.knowledge.load import LoadedKB

from .conftest import REPO


def test_docs_are_generated_byte_for_byte_from_the_kb(kb: LoadedKB) -> None:
    pages = DocsGenerator(kb.backend, kb.release).pages()
    assert differences(REPO / "docs", pages) == [], "docs/ is stale: run `python -m connectkb docs`"
    assert len(pages) > 100


def test_docs_cover_ontology_measures_rules_and_timeline_in_both_languages() -> None:
    docs = REPO / "docs"
    ontology = (docs / "reference" / "ontology.md").read_text(encoding="utf-8")
    assert "`ck:RoleAssignment`" in ontology and "org:Membership" in ontology and "W3C Organization Ontology" in ontology
    assert "角色指定" in (docs / "reference" / "ontology.zh.md").read_text(encoding="utf-8")
    witness = (docs / "measures" / "witness-account-opening.md").read_text(encoding="utf-8")
    assert "该业务于2019年开始试点" in witness
    rule = (docs / "rules" / "witness-account-opening.zh.md").read_text(encoding="utf-8")
    assert "申请人年满18周岁" in rule and "«年满18周岁»" in rule
    timeline = (docs / "timeline.md").read_text(encoding="utf-8")
    assert "| 2024-02-26 | effective |" in timeline


def test_the_cli_check_passes() -> None:
    result = subprocess.run([sys.executable, "-m", "connectkb", "docs", "--check", "--out", str(REPO / "docs")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout
