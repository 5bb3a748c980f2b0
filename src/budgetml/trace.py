"""The run's append-only event log: typed events, one JSON object a line, fsynced as written.

Every event a run records is one of the classes below, written by `Trace.write` and read back
by `read_events`; nothing else spells an event's fields. A killed run loses at most the line
being written; readers skip such a torn line. A resumed run appends a `Resumed` event naming
the checkpoint it went back to: the events between that checkpoint and the `Resumed` event stay
in the file, but `read_events` leaves them out, because the resumed run does that work again
(serving the calls already paid for from their replies).

Fields added after runs were first committed have defaults, so older traces still read.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from budgetml.config import describe_validation_error
from budgetml.errors import BudgetMLError


class TraceError(BudgetMLError):
    """A complete line of a trace is not an event BudgetML wrote (edited by hand?)."""


class Event(BaseModel):
    """One line of the trace; `kind` is its `event` field, `time` when it was written."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    kind: ClassVar[str]
    time: float | None = None


class RunStart(Event):
    kind: ClassVar[str] = "run_start"
    task: str
    task_dir: str
    config: str
    seed: int
    metric: str
    higher_is_better: bool
    direction: str | None = None
    python: str | None = None
    budgetml_version: str | None = None
    code_commit: str | None = None


class BaselineMeasured(Event):
    kind: ClassVar[str] = "baseline"
    value: float | None
    source: str = ""


class LlmCall(Event):
    kind: ClassVar[str] = "llm_call"
    agent: str
    model: str
    messages: list[dict[str, str]]
    reply: str
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cost_usd: float
    cached: bool = False
    latency_s: float = 0.0
    recovered: bool = False
    """Served again by a resumed run from the reply an earlier process paid for."""


class FormatFailure(Event):
    kind: ClassVar[str] = "format_failure"
    model: str
    attempt: int
    error: str


class Escalation(Event):
    kind: ClassVar[str] = "escalation"
    from_model: str
    to_model: str
    reason: str


class ContextTrimmed(Event):
    kind: ClassVar[str] = "context_trimmed"
    model: str
    shown_steps: int


class StepDone(Event):
    kind: ClassVar[str] = "step"
    step: int
    action: str
    action_input: dict[str, Any]
    observation: str
    reply: str = ""


class StepScored(Event):
    kind: ClassVar[str] = "score"
    step: int | None = None
    """None in traces written before steps were scored during the run (the final score)."""
    value: float | None
    error: str | None = None
    best: bool = False
    final: bool = False


class TimedComparison(Event):
    """A timed task's end of run: the unchanged starter, the final workspace and (when an
    earlier step was the best) the best one, measured in turn (scorekeeper.py)."""

    kind: ClassVar[str] = "timed_comparison"
    step: int
    baseline: float | None
    baseline_values: list[float] = []
    baseline_error: str | None = None
    final: float | None = None
    final_values: list[float] = []
    final_error: str | None = None
    best_step: int | None = None
    best_values: list[float] | None = None
    noise: float = 0.0
    """The largest spread of any workspace's measurements (`Timing.spread`)."""


class Checkpoint(Event):
    """A step is done and its workspace snapshot is durable; what a resume needs back."""

    kind: ClassVar[str] = "checkpoint"
    step: int
    snapshot: str | None = None
    lifelines_used: int = 0
    undo: dict[str, list[str | None]] = {}
    research_log_bytes: int = 0
    best_step: int | None = None
    best_score: float | None = None
    last_score: tuple[int, float | None, str | None] | None = None
    """The last step scored: (step, value, error)."""


class RunError(Event):
    kind: ClassVar[str] = "error"
    step: int
    message: str


class OutOfBudget(Event):
    kind: ClassVar[str] = "budget_exhausted"
    step: int
    message: str


class Resumed(Event):
    kind: ClassVar[str] = "resumed"
    from_step: int | None
    """The checkpoint gone back to; None: the run started over."""
    recovered_calls: int = 0
    superseded_events: int = 0
    elapsed_before_s: float = 0.0


class RunEnd(Event):
    kind: ClassVar[str] = "run_end"
    status: str
    success: bool


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RunStart,
        BaselineMeasured,
        LlmCall,
        FormatFailure,
        Escalation,
        ContextTrimmed,
        StepDone,
        StepScored,
        TimedComparison,
        Checkpoint,
        RunError,
        OutOfBudget,
        Resumed,
        RunEnd,
    )
}
E = TypeVar("E", bound=Event)


class Trace:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if _ends_torn(path):
            os.write(self._fd, b"\n")  # keep a torn line on its own, where readers skip it

    def write(self, event: Event) -> None:
        """Append one event and fsync; the line goes out in one write (JSON is ASCII here)."""
        fields = event.model_dump(mode="json", exclude={"time"})
        line = json.dumps({"event": event.kind, "time": round(time.time(), 3), **fields})
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


def read_events(path: Path, *, superseded: bool = False) -> list[Event]:
    """The run's complete events, as the run stands; a torn line is skipped, and so is an
    event of a kind this version does not know. With `superseded`, also the events a resume
    went back over (see `current_events`)."""
    events: list[Event] = []
    lines = path.read_bytes().decode("utf-8", errors="replace").split("\n")
    for number, line in enumerate(lines, 1):
        try:
            fields = json.loads(line)
        except (ValueError, RecursionError):
            continue
        kind = fields.get("event") if isinstance(fields, dict) else None
        if not isinstance(kind, str) or kind not in EVENT_TYPES:
            continue
        try:
            events.append(EVENT_TYPES[kind].model_validate(fields))
        except ValidationError as exc:
            raise TraceError(
                f"{path} line {number} does not read as a BudgetML {kind} event "
                f"({describe_validation_error(exc)})"
            ) from None
    return events if superseded else current_events(events)


def of_kind(events: Sequence[Event], kind: type[E]) -> list[E]:
    return [event for event in events if isinstance(event, kind)]


def first(events: Sequence[Event], kind: type[E]) -> E | None:
    return next((event for event in events if isinstance(event, kind)), None)


def last(events: Sequence[Event], kind: type[E]) -> E | None:
    return next((event for event in reversed(events) if isinstance(event, kind)), None)


def current_events(events: Sequence[Event]) -> list[Event]:
    """Each `Resumed` event drops the events after the checkpoint it resumed from (all earlier
    events when it started over), so every step and paid call appears once."""
    kept: list[Event] = []
    for event in events:
        if isinstance(event, Resumed):
            kept = kept[: _after_checkpoint(kept, event.from_step)]
        kept.append(event)
    return kept


def _after_checkpoint(events: list[Event], step: int | None) -> int:
    if step is None:
        return 0
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if isinstance(event, Checkpoint) and event.step == step:
            return index + 1
    return len(events)


def _ends_torn(path: Path) -> bool:
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return False
        handle.seek(size - 1)
        return handle.read(1) != b"\n"
