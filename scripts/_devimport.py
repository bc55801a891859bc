"""Makes `import connectkb` resolve to the checkout's api/connectkb without installing it."""

from __future__ import annotations

import sys
from pathlib import Path

_API = str(Path(__file__).resolve().parent.parent / "api")
if _API not in sys.path:
    sys.path.insert(0, _API)
