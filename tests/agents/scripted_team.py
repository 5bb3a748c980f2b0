"""Helpers for agent tests: scripted models (fixed replies, not LLMs) and a recorder."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from budgetml.agents.cascade import Cascade, Level, Lifelines
from budgetml.agents.planner import Planner
from budgetml.agents.prompting import HistoryStyle, PromptRenderer
from budgetml.config import Price
from budgetml.env.actions import ACTIONS, Action
from budgetml.llm.base import Completion, Message
from budgetml.llm.scripted import ScriptedModel

GOOD = (
    "Reflection: r\nResearch Plan and Status: p\nFact Check: f\nThought: t\n"
    'Action: List Files\nAction Input: {"dir_path": "."}'
)
BAD = "I think we should look around first."


def answer(action: str, action_input: dict[str, object]) -> str:
    return f"Thought: t\nAction: {action}\nAction Input: {json.dumps(action_input)}"


def scripted(
    tmp_path: Path, name: str, replies: list[str], agent: str = "planner"
) -> ScriptedModel:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({agent: replies}))
    return ScriptedModel(f"scripted:{name}", path, Price(input=0, output=0))


class Recorder:
    """Collects what the agents report, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[Message]]] = []
        self.failures: list[tuple[str, int, str]] = []
        self.escalations: list[tuple[str, str, str]] = []
        self.trims: list[tuple[str, int]] = []

    def llm_call(self, agent: str, messages: Sequence[Message], completion: Completion) -> None:
        self.calls.append((agent, completion.model, list(messages)))

    def format_failure(self, model: str, attempt: int, error: str) -> None:
        self.failures.append((model, attempt, error))

    def escalation(self, from_model: str, to_model: str, reason: str) -> None:
        self.escalations.append((from_model, to_model, reason))

    def context_trimmed(self, model: str, shown_steps: int) -> None:
        self.trims.append((model, shown_steps))

    def models_called(self) -> list[str]:
        return [model for _, model, _ in self.calls]


def make_planner(
    levels: Sequence[Level],
    recorder: Recorder,
    *,
    lifelines: int = 5,
    actions: Sequence[Action] = ACTIONS,
    style: HistoryStyle = "turns",
    skip_known_results: bool = False,
    guide_steps: bool = False,
    workspace: Path | None = None,
    short_term_steps: int = 3,
) -> Planner:
    """A planner over `levels` with r = 3; by default the paper's behaviour (every action
    offered, history as turns), which the cascade and prompt tests pin."""
    acts = tuple(actions)
    cascade = Cascade(tuple(levels), 3, Lifelines(lifelines), recorder)
    return Planner(
        cascade=cascade,
        actions=acts,
        renderer=PromptRenderer(acts, style),
        temperature=0.2,
        short_term_steps=short_term_steps,
        recorder=recorder,
        workspace=workspace,
        skip_known_results=skip_known_results,
        guide_steps=guide_steps,
    )
