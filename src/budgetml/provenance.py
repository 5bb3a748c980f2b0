"""Which code produced a result: recorded in every run's trace so a table row can be traced."""

from __future__ import annotations

import subprocess
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def code_commit(source: Path = PACKAGE_DIR) -> str | None:
    """The git commit of the code in `source` (by default the BudgetML package this run
    executes), with '+dirty' when its tracked files have uncommitted changes; None outside a
    git checkout (an installed copy)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    dirty = "+dirty" if status.returncode != 0 or status.stdout.strip() else ""
    return head.stdout.strip() + dirty
