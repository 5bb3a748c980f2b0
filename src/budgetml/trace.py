"""The run's append-only event log: one JSON object a line, fsynced as it is written.

A killed run loses at most the line being written; readers skip a torn last line.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


class Trace:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")

    def record(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "time": round(time.time(), 3), **fields}, default=str)
        self._file.write(line + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def read_trace(path: Path) -> list[dict[str, Any]]:
    """All complete events; a torn final line (from a kill mid-write) is ignored."""
    events = []
    for line in path.read_text("utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events
