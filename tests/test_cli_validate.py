"""`connectkb validate` exits 1 on any problem, the seed documents not being found included, and says
how to check without them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx


def _validate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CONNECTKB_SEEDS_DIR"}
    return subprocess.run([sys.executable, "-m", "connectkb", "validate", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_validate_without_the_seeds_fails_and_says_how_to_skip_the_quote_check(tmp_path: Path) -> None:
    result = _validate("--seeds", str(tmp_path / "no-such-folder"), cwd=tmp_path)
    assert result.returncode == 1
    assert "seed documents were not found" in result.stderr and "--skip-quotes" in result.stderr


def test_validate_with_skip_quotes_checks_shacl_only_and_says_so(tmp_path: Path) -> None:
    result = _validate("--skip-quotes", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SHACL integrity: conforms" in result.stdout
    assert "seed quotes: not checked" in result.stdout


def test_validate_with_the_seeds_checks_every_quote(tmp_path: Path, seeds: Path) -> None:
    result = _validate("--seeds", str(seeds), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ", 0 not found" in result.stdout


def test_the_help_speaks_of_the_product() -> None:
    result = subprocess.run([sys.executable, "-m", "connectkb", "--help"], capture_output=True, text=True,
                            check=True, timeout=60)
    assert "issue" not in result.stdout.lower()
    for verb in ("serve", "validate", "eval", "changes", "as-of", "diff", "release", "load", "docs"):
        assert verb in result.stdout


def test_health_says_plainly_whether_the_quotes_were_checked(http: httpx.Client) -> None:
    health = http.get("/health").json()
    assert health["quotes_checked"] > 300
    assert health["quote_check"] == "checked against the seed documents"
