"""Re-execute a finished run from its recorded replies, with no model calls.

Replies are served in the order they were recorded, per model and agent, so the replay takes
the same actions even where an observation differs (a printed runtime, say); such differences
are counted and reported, not fatal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from budgetml.errors import BudgetMLError
from budgetml.llm.stack import RecordedReplies, replay_models
from budgetml.run import run_task
from budgetml.run_dir import RunDir, recorded_task, started
from budgetml.summary import RunSummary
from budgetml.trace import Event, LlmCall, StepDone, of_kind


@dataclass(frozen=True)
class ReplayResult:
    original: RunSummary
    replayed: RunSummary
    original_actions: list[tuple[str, Any]]
    replayed_actions: list[tuple[str, Any]]
    prompt_mismatches: int = 0
    original_code: str | None = None
    """The code commit the original run recorded (None before runs recorded it)."""

    @property
    def same_actions(self) -> bool:
        return self.original_actions == self.replayed_actions


def replay_run(
    run_dir: Path, out: Path, on_note: Callable[[str], None] = lambda note: None
) -> ReplayResult:
    original = RunDir(run_dir)
    summary = original.read_summary()
    if not original.trace.is_file() or summary is None:
        raise BudgetMLError(
            f"{run_dir} is not a finished run (no {original.trace.name} or {original.summary.name})"
        )
    events = original.events()
    start = started(events)
    if start is None:
        raise BudgetMLError(f"{original.trace} has no run_start event")
    config = original.read_config()
    task = recorded_task(start, fall_back_to_builtin=True)
    replies = RecordedReplies.of(of_kind(events, LlmCall), "replayed")
    on_note(f"replaying {len(replies)} recorded calls")
    began = time.monotonic()
    replay = RunDir(out)
    with replay_models(config, replies) as models:
        replay.claim(config)
        with replay.held():
            replayed = run_task(
                task,
                config,
                config_label=start.config,
                run_dir=replay,
                seed=start.seed,
                models=models,
                state=None,
                on_note=on_note,
            )
    on_note(f"replay took {time.monotonic() - began:.1f} s")
    return ReplayResult(
        original=summary,
        replayed=replayed,
        original_actions=_actions(events),
        replayed_actions=_actions(replay.events()),
        prompt_mismatches=replies.prompt_mismatches,
        original_code=start.code_commit,
    )


def _actions(events: list[Event]) -> list[tuple[str, Any]]:
    return [(e.action, e.action_input) for e in of_kind(events, StepDone)]
