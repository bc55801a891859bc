"""The code is ruff-clean (a style gate that runs with the tests, so CI enforces it)."""

from __future__ import annotations

import ast
import subprocess

from .conftest import REPO, tool


def test_ruff_finds_nothing() -> None:
    ruff = tool("ruff")
    assert ruff, "ruff is a test dependency: pip install '.[test]'"
    result = subprocess.run([ruff, "check", "api", "tests", "scripts", "bench"], cwd=REPO,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_imports_another_modules_private_names() -> None:
    """Engines share through connectkb.common, never through each other's `_helpers`."""
    offenders = []
    for path in sorted((REPO / "api" / "connectkb").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                offenders += [f"{path.relative_to(REPO)}:{node.lineno}: {alias.name} from {node.module}"
                              for alias in node.names if alias.name.startswith("_") and alias.name != "__version__"]
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") \
                    and isinstance(node.value, ast.Name) and node.value.id in _imported_modules(tree):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not offenders, "private names used across modules:\n" + "\n".join(offenders)


def _imported_modules(tree: ast.Module) -> set[str]:
    """Names bound to modules of connectkb by `from . import x` / `import connectkb.x as y`."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0 and node.module is None:
            names |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.asname or alias.name for alias in node.names if alias.name.startswith("connectkb")}
    return names


def test_the_layout_shows_the_data_flow() -> None:
    """One subpackage per engine, each with its routes beside it, and app.py only assembling them."""
    package = REPO / "api" / "connectkb"
    for engine in ("knowledge", "rules", "time", "sparql", "linked_data"):
        assert (package / engine / "__init__.py").is_file(), engine
    for engine in ("knowledge", "rules", "time", "linked_data"):
        assert (package / engine / "routes.py").is_file(), f"{engine} has no routes.py"
    app_source = (package / "app.py").read_text(encoding="utf-8")
    assert "@app.get" not in app_source and "@app.post" not in app_source, "app.py defines routes itself"
