"""The command line as an officer and a script use it: JSON on every verb, tables on a terminal, clear
errors with the nearest known names, and `| head` ending quietly."""

from __future__ import annotations

import argparse
import json
import os
import pty
import subprocess
import sys

import pytest

from connectkb.cli import _parser, main

TEENAGER = json.dumps({"age": 17, "hk_permanent_resident": True, "witness_bank": "boc"})


def _verbs() -> dict[str, argparse.ArgumentParser]:
    _, sub = _parser()
    return dict(sub.choices)


CORE_VERBS = {"serve", "validate", "eval", "release", "diff", "changelog", "changes", "as-of", "load", "docs"}


def test_every_verb_has_json() -> None:
    verbs = _verbs()
    assert set(verbs) >= CORE_VERBS
    for name, verb in verbs.items():
        assert "--json" in {o for action in verb._actions for o in action.option_strings}, name


def test_every_option_of_the_core_verbs_has_help() -> None:
    for name, verb in _verbs().items():
        if name in CORE_VERBS:
            for action in verb._actions:
                assert action.help, (name, action.dest)


def test_an_unknown_role_exits_2_naming_the_nearest_roles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["as-of", "2025-03-01", "--role", "role-agent-witnes-bank"]) == 2
    err = capsys.readouterr().err
    assert "unknown role 'role-agent-witnes-bank'" in err and "role-agent-witness-bank" in err


def test_an_unknown_type_exits_2_naming_the_nearest_classes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["as-of", "2025-03-01", "--type", "ComercialBank", "--json"]) == 2
    captured = capsys.readouterr()
    assert "CommercialBank" in json.loads(captured.out)["error"] and "CommercialBank" in captured.err


def test_as_of_with_json_lists_the_witness_banks_of_a_day(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["as-of", "2024-12-01", "--role", "role-agent-witness-bank", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["as_of"] == "2024-12-01" and len(answer["items"]) == 5
    assert all(item["status"]["state"] for item in answer["items"])


def test_as_of_prints_a_table_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["as-of", "2024-12-01", "--role", "role-agent-witness-bank"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "label", "status"] and set(lines[1]) <= {"-", " "}
    assert lines[-1] == "5 on 2024-12-01"


def test_changes_and_validate_answer_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["changes", "--from", "2023-12-31", "--to", "2024-03-31", "--json"]) == 0
    assert [c["date"] for c in json.loads(capsys.readouterr().out)] == ["2024-02-26"]
    assert main(["changes", "--from", "2025-02-01", "--to", "2025-01-01", "--json"]) == 2
    assert "'from'" in json.loads(capsys.readouterr().out)["error"]
    assert main(["validate", "--skip-quotes", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["conforms"] is True and report["quotes_checked"] is None


def test_eval_piped_into_head_ends_without_a_traceback() -> None:
    shell = (f"{sys.executable} -m connectkb eval witness-account-opening --as-of 2025-03-01 "
             f"--facts '{TEENAGER}' | head -n 2")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.stdout.startswith("{") and len(result.stdout.splitlines()) == 2
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr


def test_eval_on_a_terminal_prints_the_verdict_and_a_table_of_criteria() -> None:
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "connectkb", "eval", "witness-account-opening", "--as-of",
                                "2025-03-01", "--facts", TEENAGER], stdout=follower, stderr=subprocess.PIPE)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closes when the process exits
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=300) == 0
    os.close(leader)
    text = output.decode("utf-8")
    assert "witness-account-opening on 2025-03-01: ineligible" in text
    assert "criterion" in text and "minimum-age" in text and "fail" in text
    assert not text.lstrip().startswith("{")


@pytest.mark.parametrize("argv", [
    ["screen", "examples/bonds.csv", "--rules", "indx-*", "--json"],
    ["screen", "examples/bonds.csv", "--rules", "index-*", "--as-of", "2012-13-01", "--json"],
    ["weights", "index-market-vectors-rmb", "examples/bonds.csv", "--as-of", "yesterday", "--json"],
    ["weights", "index-markt-vectors", "examples/bonds.csv", "--json"],
    ["timeline", "witness-account-opening", "--facts", "[]", "--from", "2024-01-01", "--to", "2025-01-01", "--json"],
])
def test_every_verb_reports_bad_input_as_json_under_json(argv: list[str], capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert main(argv) == 2
    captured = capsys.readouterr()
    error = json.loads(captured.out)["error"]
    assert error and error in captured.err
