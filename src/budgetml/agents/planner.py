"""The planner: at each step, work out what is offered, render the prompt, and let the cascade
pick the level whose reply is used (agents/cascade.py holds that policy).

With `constrained` on, each call carries the step's reply format (agents/reply_format.py): an
embedded model samples under its grammar, a provider with structured output fills its schema,
so an unusable reply cannot happen there; the cascade's format rule stays for the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from budgetml.agents.cascade import Cascade, Level, Lifelines, NotOffered
from budgetml.agents.history import Step, known_error, known_lines
from budgetml.agents.parser import FormatError, PlannerReply, parse_reply
from budgetml.agents.prompting import PromptRenderer, Situation
from budgetml.agents.recorder import CallRecorder
from budgetml.agents.reply_format import as_reply_text, reply_format
from budgetml.agents.step_options import PATH_CHARS, StepOptions, shown_lines, step_options
from budgetml.env.actions import Action
from budgetml.errors import ContextOverflowError
from budgetml.llm.base import Completion, Message, ReplyFormat

EXPERT_ACTION = "Request Help from a Planning Expert"


class LongTermMemory(Protocol):
    """The research log, seen from the planner: recall before planning, record after acting."""

    def recall(self, current_plan: str) -> str: ...

    def record(self, step: Step) -> None: ...


EXISTS = "already exists; name a new file"
KNOWN = "and nothing has changed since; do something else"
REFUSALS = (EXISTS, KNOWN)
"""How the refusals of a well-formed reply end (NotOffered), so that the behaviour table counts
them apart from replies that could not be read."""
_PATH = re.compile(f"[{PATH_CHARS}]+")


@dataclass
class Planner:
    cascade: Cascade
    actions: tuple[Action, ...]
    renderer: PromptRenderer
    temperature: float
    short_term_steps: int
    recorder: CallRecorder
    memory: LongTermMemory | None = None
    workspace: Path | None = None
    """Where the run's files are: file inputs are offered from it."""
    constrained: bool = True
    skip_known_results: bool = True
    guide_steps: bool = True
    last_prompt: str = field(default="", init=False)
    last_conversation: list[Message] = field(default_factory=list, init=False)
    history: tuple[Step, ...] = field(default=(), init=False)
    """The steps before the one being planned (workers read the last run of a script here)."""
    _situation: Situation = field(default=Situation("", (), 0), init=False)
    _shown: int = field(default=0, init=False)

    @property
    def lifelines(self) -> Lifelines:
        return self.cascade.lifelines

    @property
    def levels(self) -> tuple[Level, ...]:
        return self.cascade.levels

    def visible_actions(self) -> tuple[Action, ...]:
        """The actions of the run: the expert disappears once the lifelines are spent."""
        spent = self.lifelines.remaining <= 0
        return tuple(a for a in self.actions if not (spent and a.name == EXPERT_ACTION))

    def options(self, history: Sequence[Step]) -> StepOptions:
        return step_options(
            self.visible_actions(),
            history,
            self.workspace,
            skip_known_results=self.skip_known_results,
            guide_steps=self.guide_steps,
        )

    def situation(
        self, research_problem: str, history: Sequence[Step], steps_left: int, notes: str = ""
    ) -> Situation:
        return Situation(research_problem, tuple(history), steps_left, notes, self.options(history))

    def prompt(
        self,
        research_problem: str,
        history: Sequence[Step],
        steps_left: int,
        notes: str = "",
        shown_steps: int | None = None,
    ) -> str:
        """The step's prompt as one text (what the planning expert is shown)."""
        shown = self.short_term_steps if shown_steps is None else shown_steps
        situation = self.situation(research_problem, history, steps_left, notes)
        return self.renderer.flat_prompt(situation, shown)

    def conversation(
        self,
        research_problem: str,
        history: Sequence[Step],
        steps_left: int,
        notes: str = "",
        shown_steps: int | None = None,
    ) -> list[Message]:
        """The messages a planner call sends at this step."""
        shown = self.short_term_steps if shown_steps is None else shown_steps
        situation = self.situation(research_problem, history, steps_left, notes)
        return self.renderer.conversation(situation, shown)

    def next_action(
        self, research_problem: str, history: Sequence[Step], steps_left: int
    ) -> PlannerReply:
        """The next action, from the cheapest level that gives a usable, non-looping reply."""
        self.history = tuple(history)
        plan = history[-1].reply.sections.get("Research Plan and Status", "") if history else ""
        notes = self.memory.recall(plan) if self.memory else ""
        self._situation = self.situation(research_problem, history, steps_left, notes)
        self._show(min(self.short_term_steps, len(history)))
        return self.cascade.next_reply(self, history)

    def observe(self, step: Step) -> None:
        if self.memory:
            self.memory.record(step)

    def complete(self, level: Level, extra: Sequence[Message], avoid: frozenset[str]) -> Completion:
        """One call; a prompt too long for the model drops the oldest shown step and is sent
        again, down to no step shown (an 8k local context, a long observation: traces)."""
        while True:
            messages = [*self.last_conversation, *extra]
            try:
                completion = level.model.complete(
                    messages,
                    agent="planner",
                    temperature=self.temperature,
                    max_tokens=level.max_tokens,
                    reply_format=self._format(avoid),
                )
            except ContextOverflowError:
                if self._shown == 0:
                    raise
                self._show(self._shown - 1)
                self.recorder.context_trimmed(level.model.name, self._shown)
                continue
            self.recorder.llm_call("planner", messages, completion)
            return completion

    def parse(self, text: str, avoid: frozenset[str]) -> PlannerReply:
        """The reply as one of the actions offered, with offered input values (checked here
        for models without a grammar; a structured reply is read as text first)."""
        options = self._offered(avoid)
        signatures: Mapping[str, Sequence[str]] = {
            o.name: o.action.input_names for o in options.offers
        }
        reply = parse_reply(as_reply_text(text), signatures)
        offer = options.offers[options.names.index(reply.action)]
        for shape in offer.inputs:
            value = str(reply.action_input.get(shape.name, ""))
            if shape.choices is not None and value not in shape.choices:
                raise FormatError(
                    f"{reply.action}: {shape.name} must be one of "
                    + ", ".join(json.dumps(c) for c in shape.choices[:20])
                    + f" at this step, not {json.dumps(value)}"
                )
            if shape.path and not _PATH.fullmatch(value):
                raise FormatError(
                    f"{reply.action}: {shape.name} must be one file path made of letters, "
                    f"digits and _ . / - (no spaces), not {json.dumps(value)}"
                )
            if value in shape.not_in:
                raise NotOffered(
                    f"{reply.action}: {shape.name} {json.dumps(value)} {EXISTS}", reply.action
                )
        if not self.skip_known_results:
            return reply
        history = self._situation.history
        failed_at = known_error(history, reply.action, reply.action_input)
        if failed_at:
            raise NotOffered(
                f"{reply.action} with this input gave an error or changed nothing at step "
                f"{failed_at}, {KNOWN}",
                reply.action,
            )
        shown_at = reply.action == "Inspect Script Lines" and (
            known_lines(history, reply.action_input)
            or (self.workspace and shown_lines(history, reply.action_input, self.workspace))
        )
        if shown_at:
            raise NotOffered(
                f"{reply.action} showed these lines at step {shown_at}, {KNOWN}", reply.action
            )
        return reply

    def _offered(self, avoid: frozenset[str]) -> StepOptions:
        options = self._situation.options or self.options(self._situation.history)
        return options.without(avoid)

    def _format(self, avoid: frozenset[str]) -> ReplyFormat | None:
        return reply_format(self._offered(avoid)) if self.constrained else None

    def _show(self, steps: int) -> None:
        """Render this step's prompts with the last `steps` steps shown."""
        self._shown = steps
        self.last_prompt = self.renderer.flat_prompt(self._situation, steps)
        self.last_conversation = self.renderer.conversation(self._situation, steps)
