"""The planner: render the prompt, ask the cascade's models, parse, and climb when stuck.

A step starts at the cheapest level. It climbs one level when that model fails the format
`retries` (m) times, or proposes the action (and input) it took in each of the last
`repeat_limit` (r) steps; calls to the top of a multi-level cascade spend lifelines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import jinja2

from budgetml.agents.cascade import Level, Lifelines, can_climb, costs_a_lifeline, repeats_itself
from budgetml.agents.parser import FormatError, PlannerReply, parse_reply
from budgetml.env.actions import Action
from budgetml.llm.base import Completion, Message
from budgetml.textutil import truncate_middle

PLANNER_PROFILE = "You are a planner for solving machine learning tasks."
EXPERT_ACTION = "Request Help from a Planning Expert"
MAX_REPLY_CHARS = 20_000
"""Longest earlier reply a prompt repeats: an enormous or looping reply must not be paid for
again in every later prompt (it keeps its start and end)."""

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("budgetml", "agents/prompts"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)


class PlanningFailed(Exception):
    """No level of the cascade gave a usable reply."""


@dataclass(frozen=True)
class Step:
    """One finished step, as the planner sees it in its short-term memory."""

    number: int
    reply: PlannerReply
    observation: str


class CallRecorder(Protocol):
    """Where the agents report every model call, unusable reply and climb."""

    def llm_call(self, agent: str, messages: Sequence[Message], completion: Completion) -> None: ...

    def format_failure(self, model: str, attempt: int, error: str) -> None: ...

    def escalation(self, from_model: str, to_model: str, reason: str) -> None: ...


class LongTermMemory(Protocol):
    """The research log, seen from the planner: recall before planning, record after acting."""

    def recall(self, current_plan: str) -> str: ...

    def record(self, step: Step) -> None: ...


@dataclass
class Planner:
    levels: tuple[Level, ...]
    actions: tuple[Action, ...]
    temperature: float
    short_term_steps: int
    repeat_limit: int
    lifelines: Lifelines
    recorder: CallRecorder
    memory: LongTermMemory | None = None
    last_prompt: str = field(default="", init=False)

    def visible_actions(self) -> tuple[Action, ...]:
        """The actions offered now: the expert disappears once the lifelines are spent."""
        spent = self.lifelines.remaining <= 0
        return tuple(a for a in self.actions if not (spent and a.name == EXPERT_ACTION))

    def prompt(
        self, research_problem: str, history: Sequence[Step], steps_left: int, notes: str = ""
    ) -> str:
        shown = list(history)[-self.short_term_steps :]
        return TEMPLATES.get_template("planner.j2").render(
            research_problem=research_problem,
            actions=self.visible_actions(),
            notes=notes,
            history=[
                {
                    "number": s.number,
                    "reply": truncate_middle(s.reply.raw.strip(), MAX_REPLY_CHARS),
                    "observation": s.observation,
                }
                for s in shown
            ],
            earlier_steps=len(history) - len(shown),
            steps_left=steps_left,
        )

    def next_action(
        self, research_problem: str, history: Sequence[Step], steps_left: int
    ) -> PlannerReply:
        """The next action, from the cheapest level that gives a usable, non-looping reply."""
        plan = history[-1].reply.sections.get("Research Plan and Status", "") if history else ""
        notes = self.memory.recall(plan) if self.memory else ""
        self.last_prompt = self.prompt(research_problem, history, steps_left, notes)
        level = 0
        while True:
            reply, problem = self._ask(level)
            if reply is not None and not repeats_itself(reply, history, self.repeat_limit):
                return reply
            if not can_climb(level, self.levels, self.lifelines):
                if reply is None:
                    raise PlanningFailed(problem)
                return reply  # a repeat at the top: nobody stronger to ask
            reason = (
                f"format: {problem}"
                if reply is None
                else f"repeat: {reply.action} with the same input as in each of the last "
                f"{self.repeat_limit} steps"
            )
            above = self.levels[level + 1].model.name
            self.recorder.escalation(self.levels[level].model.name, above, reason)
            level += 1

    def observe(self, step: Step) -> None:
        if self.memory:
            self.memory.record(step)

    def _ask(self, level: int) -> tuple[PlannerReply | None, str]:
        """Up to m tries at one level, feeding each format error back; (reply, last problem)."""
        rung = self.levels[level]
        signatures: Mapping[str, Sequence[str]] = {a.name: a.input_names for a in self.actions}
        messages = [Message("system", PLANNER_PROFILE), Message("user", self.last_prompt)]
        problem = ""
        for attempt in range(1, rung.retries + 1):
            if costs_a_lifeline(level, self.levels) and not self.lifelines.take():
                return None, f"{problem} (no lifelines left for {rung.model.name})".strip()
            completion = rung.model.complete(
                messages, agent="planner", temperature=self.temperature, max_tokens=rung.max_tokens
            )
            self.recorder.llm_call("planner", messages, completion)
            try:
                return parse_reply(completion.text, signatures), ""
            except FormatError as exc:
                problem = str(exc)
                self.recorder.format_failure(rung.model.name, attempt, problem)
                messages = [
                    *messages,
                    Message("assistant", truncate_middle(completion.text, MAX_REPLY_CHARS)),
                    Message(
                        "user",
                        f"Your response could not be used: {problem}\n"
                        "Answer again in the required format.",
                    ),
                ]
        return None, (
            f"{rung.model.name} gave no well-formed response in {rung.retries} tries; "
            f"last problem: {problem}"
        )
