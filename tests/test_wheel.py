"""The wheel carries the Turtle and works installed outside the repository."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

from .conftest import REPO


def test_the_installed_wheel_validates_the_kb_from_another_directory(tmp_path: Path, seeds: Path) -> None:
    wheel_dir = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(REPO)],
                   check=True, timeout=600)
    wheel = next(wheel_dir.glob("connectkb-*.whl"))
    env_dir = tmp_path / "venv"
    # system site packages supply the dependencies; the wheel itself is what is under test
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    bin_dir = env_dir / "bin"
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
                    str(wheel)], check=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CONNECTKB_DATA_DIR", "PYTHONPATH")}
    env["CONNECTKB_SEEDS_DIR"] = str(seeds)
    where = subprocess.run([str(bin_dir / "python"), "-c", "import connectkb.paths as p; print(p.data_root())"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    data_root = Path(where.stdout.strip())
    assert data_root.is_relative_to(env_dir), data_root
    assert (data_root / "kb" / "registry" / "institutions.ttl").is_file()
    assert (data_root / "releases" / "catalog.ttl").is_file()
    assert (data_root / "web" / "index.html").is_file() and (data_root / "web" / "app.js").is_file()
    result = subprocess.run([str(bin_dir / "connectkb"), "validate"], cwd=elsewhere, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SHACL integrity: conforms" in result.stdout
