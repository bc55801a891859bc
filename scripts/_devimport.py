"""Makes `import connectkb` resolve to the checkout's api/ without installing it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_API = Path(__file__).resolve().parent.parent / "api"
if "connectkb" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("connectkb", _API / "__init__.py",
                                                   submodule_search_locations=[str(_API)])
    assert _spec and _spec.loader
    connectkb = importlib.util.module_from_spec(_spec)
    sys.modules["connectkb"] = connectkb
    _spec.loader.exec_module(connectkb)
else:
    connectkb = sys.modules["connectkb"]
