"""Re-execute a finished run from its recorded replies, with no model calls.

Replies are served in the order they were recorded, per model and agent, so the replay takes
the same actions even where an observation differs (a printed runtime, say); such differences
are counted and reported, not fatal.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from budgetml.config import ModelEntry, Price, parse_recorded_config
from budgetml.env.task import Task, find_task, load_task
from budgetml.errors import BudgetMLError, ModelError
from budgetml.llm.base import Completion, Message, Model, ReplyFormat, Usage
from budgetml.llm.pricing import FREE
from budgetml.llm.scripted import estimate_tokens
from budgetml.run import run_task
from budgetml.summary import RunSummary
from budgetml.trace import read_trace


@dataclass
class ReplayModel:
    """Serves one model's recorded replies; a replay that asks for more has diverged."""

    name: str
    price: Price
    calls: dict[str, deque[dict[str, Any]]]
    prompt_mismatches: int = 0

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return estimate_tokens("".join(m.content for m in messages))

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        queue = self.calls.get(agent)
        if not queue:
            raise ModelError(
                f"the recorded run has no further {agent} reply from {self.name}: the replay "
                "diverged from the original"
            )
        call = queue.popleft()
        recorded = [(m["role"], m["content"]) for m in call["messages"]]
        if recorded != [(m.role, m.content) for m in messages]:
            self.prompt_mismatches += 1
        return replace(recorded_completion(call), latency_s=0.0, cached=True)


def recorded_completion(call: dict[str, Any]) -> Completion:
    """The completion an `llm_call` event recorded, as the model returned it then."""
    usage = Usage(
        int(call["input_tokens"]), int(call["output_tokens"]), int(call["cached_input_tokens"])
    )
    return Completion(
        text=str(call["reply"]),
        model=str(call["model"]),
        usage=usage,
        cost_usd=float(call["cost_usd"]),
        latency_s=float(call.get("latency_s") or 0.0),
        cached=bool(call.get("cached")),
    )


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
    trace_file, summary_file = run_dir / "trace.jsonl", run_dir / "summary.json"
    if not trace_file.is_file() or not summary_file.is_file():
        raise BudgetMLError(f"{run_dir} is not a finished run (no trace.jsonl or summary.json)")
    events = read_trace(trace_file)
    start = next((e for e in events if e["event"] == "run_start"), None)
    if start is None:
        raise BudgetMLError(f"{trace_file} has no run_start event")
    config = parse_recorded_config(
        (run_dir / "config.yaml").read_text("utf-8"), str(run_dir / "config.yaml")
    )
    task = _recorded_task(start).with_direction(bool(start["higher_is_better"]))
    queues: dict[str, dict[str, deque[dict[str, Any]]]] = defaultdict(lambda: defaultdict(deque))
    for event in events:
        if event["event"] == "llm_call":
            queues[event["model"]][event["agent"]].append(event)
    models: dict[str, ReplayModel] = {}

    def replay_model(entry: ModelEntry) -> Model:
        # Replayed calls are free now; their recorded cost still counts in cost_usd.
        model = ReplayModel(entry.model, FREE, queues.get(entry.model, {}))
        models[entry.model] = model
        return model

    on_note(f"replaying {sum(len(q) for m in queues.values() for q in m.values())} recorded calls")
    started = time.monotonic()
    replayed = run_task(
        task,
        config,
        config_label=str(start["config"]),
        run_dir=out,
        seed=int(start["seed"]),
        make_model=replay_model,
        on_note=on_note,
    )
    on_note(f"replay took {time.monotonic() - started:.1f} s")
    return ReplayResult(
        original=RunSummary.model_validate_json(summary_file.read_text("utf-8")),
        replayed=replayed,
        original_actions=_actions(trace_file),
        replayed_actions=_actions(out / "trace.jsonl"),
        prompt_mismatches=sum(m.prompt_mismatches for m in models.values()),
        original_code=start.get("code_commit"),
    )


def _recorded_task(start: dict[str, Any]) -> Task:
    """The task folder the run used; if it is gone (a run from another checkout or machine),
    the built-in task of the same name."""
    folder = Path(start["task_dir"])
    return load_task(folder) if folder.is_dir() else find_task(str(start["task"]))


def _actions(trace_file: Path) -> list[tuple[str, Any]]:
    return [
        (e["action"], e["action_input"]) for e in read_trace(trace_file) if e["event"] == "step"
    ]
