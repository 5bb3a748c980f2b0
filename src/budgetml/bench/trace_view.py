"""A run's trace.jsonl as a list of steps: who answered, what it did, what it saw, what it cost."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from budgetml.bench.charts import ScorePoint
from budgetml.trace import read_trace


@dataclass
class StepView:
    """One planning step with every event since the previous step (model calls, climbs, ...)."""

    number: int | None = None
    action: str | None = None
    action_input: str = ""
    observation: str = ""
    tried: list[str] = field(default_factory=list)
    answered_by: str | None = None
    escalations: list[str] = field(default_factory=list)
    expert_calls: int = 0
    worker_calls: int = 0
    format_failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def empty(self) -> bool:
        return not (self.tried or self.escalations or self.worker_calls or self.observation)


def read_steps(run_dir: Path) -> list[StepView] | None:
    """The run's steps, or None when it has no trace; a step cut short by an error comes last."""
    trace = run_dir / "trace.jsonl"
    if not trace.is_file():
        return None
    steps: list[StepView] = []
    current = StepView()
    for event in read_trace(trace):
        kind = event.get("event")
        if kind == "llm_call":
            _add_call(current, event)
        elif kind == "format_failure":
            current.format_failures += 1
        elif kind == "escalation":
            current.escalations.append(
                f"{short_model(str(event.get('from_model')))} → "
                f"{short_model(str(event.get('to_model')))}: {event.get('reason', '')}"
            )
        elif kind == "step":
            current.number = int(event.get("step", len(steps) + 1))
            current.action = str(event.get("action"))
            current.action_input = json.dumps(event.get("action_input"), ensure_ascii=False)
            current.observation = str(event.get("observation", ""))
            steps.append(current)
            current = StepView()
        elif kind in ("error", "budget_exhausted"):
            current.observation = f"{kind}: {event.get('message', '')}"
    if not current.empty:
        steps.append(current)
    return steps


def _add_call(step: StepView, event: dict[str, Any]) -> None:
    agent, model = event.get("agent"), str(event.get("model"))
    step.input_tokens += int(event.get("input_tokens") or 0)
    step.output_tokens += int(event.get("output_tokens") or 0)
    step.cost_usd += float(event.get("cost_usd") or 0.0)
    if agent == "planner":
        if not step.tried or step.tried[-1] != model:
            step.tried.append(model)
        step.answered_by = model
    elif agent == "expert":
        step.expert_calls += 1
    else:
        step.worker_calls += 1


def short_model(model: str) -> str:
    """A scripted model's file name instead of its full path; other names as they are."""
    if model.startswith("scripted:"):
        return "scripted:" + Path(model.removeprefix("scripted:")).name
    if model.startswith("local/") and model.endswith(".gguf"):
        return "local/" + Path(model.removeprefix("local/")).name
    return model


def truncate(text: str, limit: int) -> str:
    """Keep the head and the tail, the way the sandbox trims long output."""
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 3
    return f"{text[:head]}\n… {len(text) - head - tail} characters left out …\n{text[-tail:]}"


def read_scores(run_dir: Path) -> list[ScorePoint]:
    """The run's `score` events in order; only the overall best (the last new best) is marked."""
    trace = run_dir / "trace.jsonl"
    if not trace.is_file():
        return []
    events = [e for e in read_trace(trace) if e.get("event") == "score" and "step" in e]
    best = max((i for i, e in enumerate(events) if e.get("best")), default=None)
    return [
        ScorePoint(int(e["step"]), None if e.get("value") is None else float(e["value"]), i == best)
        for i, e in enumerate(events)
    ]
