"""Where prepared task data lives: outside every workspace, outside the package."""

from __future__ import annotations

import os
from pathlib import Path


def data_root() -> Path:
    """`$BUDGETML_DATA_DIR`, else `~/.cache/budgetml/data`."""
    configured = os.environ.get("BUDGETML_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "budgetml" / "data"
