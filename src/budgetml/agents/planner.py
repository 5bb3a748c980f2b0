"""The planner: render the prompt, ask the model, parse the reply, retry with feedback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import jinja2

from budgetml.agents.parser import FormatError, PlannerReply, parse_reply
from budgetml.env.actions import Action
from budgetml.llm.base import Completion, Message, Model

PLANNER_PROFILE = "You are a planner for solving machine learning tasks."

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("budgetml", "agents/prompts"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)


class PlanningFailed(Exception):
    """The model gave no usable reply within its tries."""


@dataclass(frozen=True)
class Step:
    """One finished step, as the planner sees it in its short-term memory."""

    number: int
    reply: PlannerReply
    observation: str


class CallRecorder(Protocol):
    """Where the planner reports every model call and every unusable reply."""

    def llm_call(self, agent: str, messages: Sequence[Message], completion: Completion) -> None: ...

    def format_failure(self, model: str, attempt: int, error: str) -> None: ...


@dataclass(frozen=True)
class Planner:
    model: Model
    retries: int
    max_tokens: int
    temperature: float
    actions: tuple[Action, ...]
    short_term_steps: int
    recorder: CallRecorder

    def prompt(self, research_problem: str, history: Sequence[Step], steps_left: int) -> str:
        shown = list(history)[-self.short_term_steps :]
        return _TEMPLATES.get_template("planner.j2").render(
            research_problem=research_problem,
            actions=self.actions,
            history=[
                {"number": s.number, "reply": s.reply.raw.strip(), "observation": s.observation}
                for s in shown
            ],
            earlier_steps=len(history) - len(shown),
            steps_left=steps_left,
        )

    def next_action(
        self, research_problem: str, history: Sequence[Step], steps_left: int
    ) -> PlannerReply:
        """Ask up to `retries` times, feeding each format error back to the model."""
        messages = [
            Message("system", PLANNER_PROFILE),
            Message("user", self.prompt(research_problem, history, steps_left)),
        ]
        signatures = {action.name: action.input_names for action in self.actions}
        last_error = ""
        for attempt in range(1, self.retries + 1):
            completion = self.model.complete(
                messages, agent="planner", temperature=self.temperature, max_tokens=self.max_tokens
            )
            self.recorder.llm_call("planner", messages, completion)
            try:
                return parse_reply(completion.text, signatures)
            except FormatError as exc:
                last_error = str(exc)
                self.recorder.format_failure(self.model.name, attempt, last_error)
                messages = [
                    *messages,
                    Message("assistant", completion.text),
                    Message(
                        "user",
                        f"Your response could not be used: {last_error}\n"
                        "Answer again in the required format.",
                    ),
                ]
        raise PlanningFailed(
            f"{self.model.name} gave no well-formed response in {self.retries} tries; "
            f"last problem: {last_error}"
        )
