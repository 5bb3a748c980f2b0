"""A run's trace as a list of steps: who answered, what it did, what it saw, what it cost."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from budgetml.bench.charts import ScorePoint
from budgetml.run_dir import RunDir
from budgetml.trace import (
    Escalation,
    FormatFailure,
    LlmCall,
    OutOfBudget,
    RunError,
    StepDone,
    StepScored,
    of_kind,
)


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
    layout = RunDir(run_dir)
    if not layout.trace.is_file():
        return None
    steps: list[StepView] = []
    current = StepView()
    for event in layout.events():
        if isinstance(event, LlmCall):
            _add_call(current, event)
        elif isinstance(event, FormatFailure):
            current.format_failures += 1
        elif isinstance(event, Escalation):
            current.escalations.append(
                f"{short_model(event.from_model)} → {short_model(event.to_model)}: {event.reason}"
            )
        elif isinstance(event, StepDone):
            current.number = event.step
            current.action = event.action
            current.action_input = json.dumps(event.action_input, ensure_ascii=False)
            current.observation = event.observation
            steps.append(current)
            current = StepView()
        elif isinstance(event, RunError | OutOfBudget):
            current.observation = f"{event.kind}: {event.message}"
    if not current.empty:
        steps.append(current)
    return steps


def _add_call(step: StepView, event: LlmCall) -> None:
    agent, model = event.agent, event.model
    step.input_tokens += event.input_tokens
    step.output_tokens += event.output_tokens
    step.cost_usd += event.cost_usd
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
    scores = [e for e in of_kind(RunDir(run_dir).events(), StepScored) if e.step is not None]
    best = max((i for i, e in enumerate(scores) if e.best), default=None)
    return [ScorePoint(e.step or 0, e.value, i == best) for i, e in enumerate(scores)]
