"""The run's append-only event log: one JSON object a line, fsynced as it is written.

A killed run loses at most the line being written; readers skip such a torn line. A resumed
run appends a `resumed` event naming the checkpoint it went back to: the events between that
checkpoint and the `resumed` event stay in the file, but `read_trace` leaves them out, because
the resumed run does that work again (serving the calls already paid for from their replies).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any

Event = dict[str, Any]


class Trace:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if _ends_torn(path):
            os.write(self._fd, b"\n")  # keep a torn line on its own, where readers skip it

    def record(self, event: str, **fields: Any) -> None:
        """Append one event and fsync; the line goes out in one write (JSON is ASCII here)."""
        line = json.dumps({"event": event, "time": round(time.time(), 3), **fields}, default=str)
        data = (line + "\n").encode("ascii")
        while data:
            data = data[os.write(self._fd, data) :]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Trace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_trace(path: Path, *, superseded: bool = False) -> list[Event]:
    """The run's complete events, as the run stands; a torn line is skipped.

    With `superseded`, also the events a resume went back over (see `current_events`).
    """
    events = []
    for line in path.read_bytes().decode("utf-8", errors="replace").split("\n"):
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            events.append(event)
    return events if superseded else current_events(events)


def current_events(events: list[Event]) -> list[Event]:
    """Each `resumed` event drops the events after the checkpoint it resumed from (all earlier
    events when it started over), so every step and paid call appears once."""
    kept: list[Event] = []
    for event in events:
        if event["event"] == "resumed":
            kept = kept[: _after_checkpoint(kept, event.get("from_step"))]
        kept.append(event)
    return kept


def _after_checkpoint(events: list[Event], step: Any) -> int:
    if step is None:
        return 0
    for index in range(len(events) - 1, -1, -1):
        if events[index]["event"] == "checkpoint" and events[index].get("step") == step:
            return index + 1
    return len(events)


def _ends_torn(path: Path) -> bool:
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return False
        handle.seek(size - 1)
        return handle.read(1) != b"\n"
