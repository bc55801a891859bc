"""`connectkb validate` runs the integrity checks beside the rules' compile (a forked process on Linux):
what the checks find, how long they took, and an error they raise reach validation as if run in line."""

from __future__ import annotations

import os

import pytest

from connectkb.knowledge import load
from connectkb.knowledge.integrity import IntegrityReport, Violation


def test_the_checks_report_and_timings_come_back_from_beside_the_compile() -> None:
    seen_by_meanwhile: list[int] = []
    checked = load.check(check_quotes=False, meanwhile=lambda store: seen_by_meanwhile.append(len(store)) or "done")
    in_line = load.check(check_quotes=False)
    assert checked.meanwhile is not None and checked.meanwhile.result() == "done"
    assert seen_by_meanwhile == [len(checked.store)]
    assert checked.report == in_line.report
    assert checked.timings["shacl_s"] > 0


def test_a_violation_found_beside_the_compile_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    violation = Violation(message="made up for the test", focus="https://w3id.org/connectkb/id/x", path=None,
                          value=None, severity="Violation")
    monkeypatch.setattr(load, "_shacl", lambda store, root, timings: IntegrityReport(False, [violation]))
    checked = load.check(check_quotes=False, meanwhile=lambda store: None)
    assert not checked.report.conforms
    assert checked.report.violations == [violation]


def test_an_error_raised_by_the_checks_is_raised_by_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = os.getpid()

    def broken(store: object, root: object, timings: dict[str, float]) -> IntegrityReport:
        raise ValueError(f"the integrity shapes cannot be evaluated (checked in {'this' if os.getpid() == parent else 'a child'} process)")

    monkeypatch.setattr(load, "_shacl", broken)
    with pytest.raises(ValueError, match="cannot be evaluated") as raised:
        load.check(check_quotes=False, meanwhile=lambda store: None)
    if hasattr(os, "fork"):
        assert "a child process" in str(raised.value)
