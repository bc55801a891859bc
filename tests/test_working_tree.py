"""The tests exercise the working tree, in process and in the commands they start, whether the package
was installed editable, from a wheel, or not at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import connectkb
from connectkb.common import paths

from .conftest import REPO


def test_the_package_under_test_is_the_working_trees() -> None:
    assert Path(connectkb.__file__).resolve().is_relative_to(REPO / "api" / "connectkb")


def test_commands_the_tests_start_run_the_working_tree_from_any_directory(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", "import connectkb, connectkb.common.paths as p; "
                                                "print(connectkb.__file__); print(p.data_root())"],
                         cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60).stdout.split("\n")
    assert Path(out[0]).resolve().is_relative_to(REPO / "api" / "connectkb")
    assert Path(out[1]).resolve() == paths.data_root().resolve()
