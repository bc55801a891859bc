"""The wheel installs with its declared dependencies into an empty virtualenv and serves from anywhere.

This is the README's first command as a new user runs it: nothing but what `pip install` brings, no
system site packages, no `--no-deps`, started from a directory that is not the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import httpx

from .conftest import REPO, free_port


def _installed_wheel(tmp_path: Path) -> Path:
    """Build the wheel from the working tree and install it, with its dependencies, into an empty venv."""
    wheel_dir = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(REPO)],
                   check=True, timeout=600)
    wheel = next(wheel_dir.glob("connectkb-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=False, with_pip=True)
    subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
                   check=True, timeout=900)
    return env_dir


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CONNECTKB_DATA_DIR", "CONNECTKB_STORE", "PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, **extra}


def test_the_wheel_installed_with_its_dependencies_serves_and_evaluates_from_another_directory(
        tmp_path: Path, seeds: Path) -> None:
    env_dir = _installed_wheel(tmp_path)
    python = str(env_dir / "bin" / "python")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    # the Turtle travels inside the package, not read from the checkout
    where = subprocess.run([python, "-c", "import connectkb.common.paths as p; print(p.data_root())"],
                           cwd=elsewhere, env=_clean_env(), capture_output=True, text=True, check=True)
    data_root = Path(where.stdout.strip())
    assert data_root.is_relative_to(env_dir), data_root
    assert (data_root / "kb" / "registry" / "institutions.ttl").is_file()
    assert (data_root / "releases" / "catalog.ttl").is_file()
    assert (data_root / "linked_data" / "web" / "index.html").is_file()

    # validate checks the quotes when it is told where the seeds are, and exits 0 on a sound KB
    validated = subprocess.run([str(env_dir / "bin" / "connectkb"), "validate", "--seeds", str(seeds)],
                               cwd=elsewhere, env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "SHACL integrity: conforms" in validated.stdout
    assert "seed quotes: " in validated.stdout and " checked, 0 not found" in validated.stdout

    port = free_port()
    server = subprocess.Popen([python, "-m", "connectkb", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=elsewhere, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        health = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert health is not None, f"connectkb serve did not start:\n{server.stdout.read() if server.stdout else ''}"
        assert health.status_code == 200
        assert health.json()["conforms"] is True
        answer = httpx.post(f"{base}/v1/rules/witness-account-opening/evaluate", timeout=30, json={
            "facts": {"age": 17, "hk_permanent_resident": True, "witness_bank": "boc"}, "as_of": "2025-03-01"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["verdict"] == "ineligible"
        assert {c["id"]: c["outcome"] for c in body["criteria"]}["minimum-age"] == "fail"
    finally:
        server.terminate()
        server.wait(timeout=30)
