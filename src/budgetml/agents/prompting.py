"""Planner prompts: the templates, and how a step's situation becomes the messages sent.

Three ways to show the history (`planner_history`):
- `steps` (default): one user message, the fixed instructions first (a local model's KV cache
  keeps them), then every step so far as one line (action, input, how it ended), the full
  observations of the last few, what the plan was, and what is offered now. No earlier reply is
  shown as the model's own turn: both Qwen models copied their previous assistant turn, or the
  example response, as the next action (traces: 71-88% of steps repeated the step before).
- `turns`: each shown step as an assistant turn (the reply, canonical) and a user turn (its
  observation).
- `transcript`: the flat prompt, which is also what the planning expert receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import jinja2

from budgetml.agents.history import Step, describe_step
from budgetml.agents.step_options import StepOptions
from budgetml.env.actions import Action
from budgetml.llm.base import Message
from budgetml.textutil import truncate_middle

PLANNER_PROFILE = "You are a planner for solving machine learning tasks."
MAX_REPLY_CHARS = 20_000
"""Longest earlier reply a prompt repeats: an enormous or looping reply must not be paid for
again in every later prompt (it keeps its start and end)."""
MAX_PLAN_CHARS = 1_500

HistoryStyle = Literal["steps", "turns", "transcript"]

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("budgetml", "agents/prompts"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)


@dataclass(frozen=True)
class Situation:
    """What the planner knows at a step: the problem, the steps so far, what is left."""

    research_problem: str
    history: tuple[Step, ...]
    steps_left: int
    notes: str = ""
    options: StepOptions | None = None


@dataclass(frozen=True)
class PromptRenderer:
    """Renders a situation with a fixed action set and history style."""

    actions: tuple[Action, ...]
    style: HistoryStyle = "steps"
    starter_script: str = "train.py"

    def instructions(self, research_problem: str) -> str:
        """The fixed opening of every prompt of a run: the problem, the actions, the rules."""
        return TEMPLATES.get_template("planner_instructions.j2").render(
            research_problem=research_problem.strip(),
            actions=self.actions,
            starter_script=self.starter_script,
        )

    def flat_prompt(self, situation: Situation, shown: int) -> str:
        """Everything as one text (the `transcript` style and the expert's context)."""
        history = list(situation.history)
        kept = history[len(history) - min(shown, len(history)) :]
        return TEMPLATES.get_template("planner.j2").render(
            instructions=self.instructions(situation.research_problem),
            notes=situation.notes,
            history=[
                {
                    "number": s.number,
                    "reply": truncate_middle(s.reply.canonical(), MAX_REPLY_CHARS),
                    "observation": s.observation,
                }
                for s in kept
            ],
            earlier_steps=len(history) - len(kept),
            steps_left=situation.steps_left,
            offered=_offered(situation.options),
        )

    def conversation(self, situation: Situation, shown: int) -> list[Message]:
        """The messages of a planner call with the last `shown` steps' observations in full."""
        system = Message("system", PLANNER_PROFILE)
        if self.style == "transcript":
            return [system, Message("user", self.flat_prompt(situation, shown))]
        if self.style == "steps":
            return [system, Message("user", self._steps_message(situation, shown))]
        return [system, *self._turns(situation, shown)]

    def _steps_message(self, situation: Situation, shown: int) -> str:
        history = list(situation.history)
        full = history[len(history) - min(shown, len(history)) :]
        plan = history[-1].reply.sections.get("Research Plan and Status", "") if history else ""
        return TEMPLATES.get_template("planner_steps.j2").render(
            instructions=self.instructions(situation.research_problem).rstrip(),
            lines=[describe_step(s) for s in history],
            full=[
                {"number": s.number, "action": s.reply.action, "observation": s.observation}
                for s in full
            ],
            plan=truncate_middle(plan, MAX_PLAN_CHARS),
            notes=situation.notes,
            steps_left=situation.steps_left,
            offered=_offered(situation.options),
        )

    def _turns(self, situation: Situation, shown: int) -> list[Message]:
        history = list(situation.history)
        kept = history[len(history) - min(shown, len(history)) :]
        instructions = self.instructions(situation.research_problem).rstrip()
        turn = TEMPLATES.get_template("planner_turn.j2")
        closing = {
            "notes": situation.notes,
            "earlier_steps": len(history) - len(kept),
            "steps_left": situation.steps_left,
            "offered": _offered(situation.options),
        }
        if not kept:
            opening = turn.render(observation=None, **closing)
            return [Message("user", f"{instructions}\n\n{opening}")]
        messages = [Message("user", f"{instructions}\n\nGive your first response.")]
        idle = {"notes": "", "earlier_steps": 0, "steps_left": None, "offered": None}
        for index, step in enumerate(kept):
            ending = closing if index == len(kept) - 1 else idle
            observation = turn.render(observation=step.observation, **ending)
            reply = truncate_middle(step.reply.canonical(), MAX_REPLY_CHARS)
            messages += [Message("assistant", reply), Message("user", observation.rstrip())]
        return messages


def _offered(options: StepOptions | None) -> dict[str, object] | None:
    """What the prompt says of the options: the action names, and what is held back and why."""
    if options is None:
        return None
    return {
        "names": list(options.names),
        "withheld": [f"{w.what} ({w.why})" for w in options.withheld],
    }
