"""Where the Turtle lives: inside the installed wheel, or at the top of a source checkout (which an
editable install also reads)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "CONNECTKB_DATA_DIR"
SEEDS_DIR_ENV = "CONNECTKB_SEEDS_DIR"


def data_root() -> Path:
    """The directory holding `ontology/` and `kb/`.

    The wheel carries them inside the package; a checkout keeps them one level up. An explicit
    CONNECTKB_DATA_DIR wins so that tests and operators can point at another copy of the KB.
    """
    explicit = os.environ.get(DATA_DIR_ENV)
    if explicit:
        return Path(explicit)
    here = Path(__file__).resolve().parent
    for candidate in here.parents:
        if (candidate / "kb").is_dir() and (candidate / "ontology").is_dir():
            return candidate
    raise FileNotFoundError(
        f"no ontology/ and kb/ found beside {here}; set {DATA_DIR_ENV} to the directory that holds them"
    )


def turtle_files(root: Path | None = None) -> list[Path]:
    """Every Turtle file of the ontology and the KB, in a stable order."""
    root = root or data_root()
    files = sorted((root / "ontology").rglob("*.ttl")) + sorted((root / "kb").rglob("*.ttl"))
    return [f for f in files if "shapes" not in f.relative_to(root).parts]


def shapes_files(root: Path | None = None) -> list[Path]:
    root = root or data_root()
    return sorted((root / "ontology" / "shapes").glob("*.ttl"))


def seeds_dir() -> Path | None:
    """The seed documents, kept beside the repository (never copied into it)."""
    explicit = os.environ.get(SEEDS_DIR_ENV)
    candidates = [Path(explicit)] if explicit else []
    here = Path(__file__).resolve().parent
    candidates += [parent / "shared" / "seeds" for parent in here.parents]
    candidates += [Path.cwd().parent / "shared" / "seeds"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    return None
