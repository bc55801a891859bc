"""The code is ruff-clean (a style gate that runs with the tests, so CI enforces it)."""

from __future__ import annotations

import subprocess

from .conftest import REPO, tool


def test_ruff_finds_nothing() -> None:
    ruff = tool("ruff")
    assert ruff, "ruff is a test dependency: pip install '.[test]'"
    result = subprocess.run([ruff, "check", "api", "tests", "scripts", "bench"], cwd=REPO,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
