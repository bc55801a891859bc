"""A broken KB file makes `connectkb validate` fail and the server refuse to start, naming the problem."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from connectkb.common import paths

from .conftest import free_port

BAD_STATISTIC = """
@prefix ck:   <https://w3id.org/connectkb/ontology/> .
@prefix stat: <https://w3id.org/connectkb/id/statistic/> .
@prefix unit: <https://w3id.org/connectkb/id/unit/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
stat:broken-example a ck:Statistic ;
    rdfs:label "a statistic with a malformed date and no citation"@en , "坏数据"@zh-Hans ;
    ck:value 1 ; ck:unit unit:count ; ck:isEstimate false ; ck:scope "test"@en ;
    ck:asOfDate "2025-01" .
"""

FAKE_QUOTE = """
@prefix ck:   <https://w3id.org/connectkb/ontology/> .
@prefix cite: <https://w3id.org/connectkb/id/citation/> .
@prefix src:  <https://w3id.org/connectkb/id/source/> .
cite:broken-invented-quote a ck:Citation ; ck:source src:seed-000 ; ck:locator "nowhere" ;
    ck:quote "香港金管局宣布取消所有人民币业务"@zh-Hans .
"""


def _copy_kb(tmp_path: Path, extra_name: str, extra: str) -> Path:
    root = paths.data_root()
    for part in ("ontology", "kb"):
        shutil.copytree(root / part, tmp_path / part)
    (tmp_path / "kb" / extra_name).write_text(extra, encoding="utf-8")
    return tmp_path


def _env(data_dir: Path, seeds: Path) -> dict[str, str]:
    return {**os.environ, "CONNECTKB_DATA_DIR": str(data_dir), "CONNECTKB_SEEDS_DIR": str(seeds)}


def _connectkb(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connectkb.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_validate_passes_on_the_shipped_kb(seeds: Path) -> None:
    result = _connectkb("validate", env=_env(paths.data_root(), seeds))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "conforms" in result.stdout


def test_validate_names_a_malformed_date_and_a_missing_citation(tmp_path: Path, seeds: Path) -> None:
    data = _copy_kb(tmp_path, "broken.ttl", BAD_STATISTIC)
    result = _connectkb("validate", env=_env(data, seeds))
    assert result.returncode == 1
    assert "stat:broken-example" in result.stdout
    assert "ck:asOfDate must be an xsd:date" in result.stdout
    assert "stat:broken-example has no citation" in result.stdout


def test_validate_names_a_quote_that_is_not_in_the_seed(tmp_path: Path, seeds: Path) -> None:
    data = _copy_kb(tmp_path, "broken.ttl", FAKE_QUOTE)
    result = _connectkb("validate", env=_env(data, seeds))
    assert result.returncode == 1
    assert "cite:broken-invented-quote: quote not found verbatim in seed 000_" in result.stdout


def test_validate_names_the_file_with_a_syntax_error(tmp_path: Path, seeds: Path) -> None:
    data = _copy_kb(tmp_path, "broken.ttl", "@prefix ck: <https://w3id.org/connectkb/ontology/> .\nck:x ck:y .\n")
    result = _connectkb("validate", env=_env(data, seeds))
    assert result.returncode != 0
    assert "broken.ttl" in result.stdout + result.stderr


@pytest.mark.parametrize("extra", [BAD_STATISTIC, FAKE_QUOTE], ids=["bad-date", "invented-quote"])
def test_the_server_refuses_to_start_on_a_broken_kb(tmp_path: Path, seeds: Path, extra: str) -> None:
    data = _copy_kb(tmp_path, "broken.ttl", extra)
    result = _connectkb("serve", "--port", str(free_port()), env=_env(data, seeds), timeout=300)
    assert result.returncode == 1
    assert "refuses to start" in result.stderr
    assert "broken" in result.stderr
