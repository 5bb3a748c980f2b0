"""The planner: render the prompt, ask the cascade's models, parse, and climb when stuck.

A step starts at the cheapest level. It climbs one level when that model fails the format
`retries` (m) times, or proposes the action (and input) it took in each of the last
`repeat_limit` (r) steps; calls to the top of a multi-level cascade spend lifelines. A climb
for a repeat whose higher levels give no usable reply keeps the repeated proposal; only a step
with no usable reply at any level fails the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import jinja2

from budgetml.agents.cascade import Level, Lifelines, can_climb, costs_a_lifeline, repeats_itself
from budgetml.agents.parser import FormatError, PlannerReply, parse_reply
from budgetml.env.actions import Action
from budgetml.errors import ContextOverflowError
from budgetml.llm.base import Completion, Message
from budgetml.textutil import truncate_middle

PLANNER_PROFILE = "You are a planner for solving machine learning tasks."
EXPERT_ACTION = "Request Help from a Planning Expert"
MAX_REPLY_CHARS = 20_000
"""Longest earlier reply a prompt repeats: an enormous or looping reply must not be paid for
again in every later prompt (it keeps its start and end)."""
MAX_REJECTED_REPLY_CHARS = 2_000
"""How much of an unusable reply a retry shows back: enough to see the mistake. Small models
sometimes repeat a key until max_tokens; echoing all of it overflowed an 8k context (traces)."""

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

    def context_trimmed(self, model: str, shown_steps: int) -> None: ...


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
    history_as: Literal["turns", "transcript"] = "turns"
    starter_script: str = "train.py"
    """Named in the prompt's example response: running it is a sound first step on any task."""
    last_prompt: str = field(default="", init=False)
    last_conversation: list[Message] = field(default_factory=list, init=False)
    _situation: tuple[str, list[Step], int, str] = field(default=("", [], 0, ""), init=False)
    _shown: int = field(default=0, init=False)

    def visible_actions(self) -> tuple[Action, ...]:
        """The actions offered now: the expert disappears once the lifelines are spent."""
        spent = self.lifelines.remaining <= 0
        return tuple(a for a in self.actions if not (spent and a.name == EXPERT_ACTION))

    def prompt(
        self,
        research_problem: str,
        history: Sequence[Step],
        steps_left: int,
        notes: str = "",
        shown_steps: int | None = None,
    ) -> str:
        shown = self._shown_of(history, shown_steps)
        return TEMPLATES.get_template("planner.j2").render(
            research_problem=research_problem,
            actions=self.visible_actions(),
            starter_script=self.starter_script,
            notes=notes,
            history=[
                {
                    "number": s.number,
                    "reply": truncate_middle(s.reply.canonical(), MAX_REPLY_CHARS),
                    "observation": s.observation,
                }
                for s in shown
            ],
            earlier_steps=len(history) - len(shown),
            steps_left=steps_left,
        )

    def conversation(
        self,
        research_problem: str,
        history: Sequence[Step],
        steps_left: int,
        notes: str = "",
        shown_steps: int | None = None,
    ) -> list[Message]:
        """The messages a planner call sends.

        As `turns`, each shown step is the model's own earlier reply (assistant) followed by its
        observation (user): a small model then answers the last observation instead of going
        on writing a transcript, and the instructions stay one fixed prefix a local model's KV
        cache keeps. As `transcript`, everything is one user message (the flat prompt).
        """
        system = Message("system", PLANNER_PROFILE)
        if self.history_as == "transcript":
            flat = self.prompt(research_problem, history, steps_left, notes, shown_steps)
            return [system, Message("user", flat)]
        shown = self._shown_of(history, shown_steps)
        instructions = TEMPLATES.get_template("planner_instructions.j2").render(
            research_problem=research_problem,
            actions=self.visible_actions(),
            starter_script=self.starter_script,
        )
        turn = TEMPLATES.get_template("planner_turn.j2")
        closing = {
            "notes": notes,
            "earlier_steps": len(history) - len(shown),
            "steps_left": steps_left,
        }
        if not shown:
            opening = turn.render(observation=None, **closing)
            return [system, Message("user", f"{instructions.rstrip()}\n\n{opening}")]
        messages = [
            system,
            Message("user", f"{instructions.rstrip()}\n\nGive your first response."),
        ]
        for index, step in enumerate(shown):
            last = index == len(shown) - 1
            reply = truncate_middle(step.reply.canonical(), MAX_REPLY_CHARS)
            ending = closing if last else {"notes": "", "earlier_steps": 0, "steps_left": None}
            observation = turn.render(observation=step.observation, **ending)
            messages += [Message("assistant", reply), Message("user", observation.rstrip())]
        return messages

    def next_action(
        self, research_problem: str, history: Sequence[Step], steps_left: int
    ) -> PlannerReply:
        """The next action, from the cheapest level that gives a usable, non-looping reply."""
        plan = history[-1].reply.sections.get("Research Plan and Status", "") if history else ""
        notes = self.memory.recall(plan) if self.memory else ""
        self._situation = (research_problem, list(history), steps_left, notes)
        self._show(min(self.short_term_steps, len(history)))
        level = 0
        repeat: PlannerReply | None = None  # a usable proposal a climb tried to improve on
        feedback: list[Message] = []
        while True:
            reply, problem = self._ask(level, feedback)
            if reply is not None and not repeats_itself(reply, history, self.repeat_limit):
                return reply
            repeat = reply or repeat
            if not can_climb(level, self.levels, self.lifelines):
                if reply is not None:  # told of the repeat (on the climb) it insists: go ahead
                    return reply if feedback else self._steer_away(level, reply)
                if repeat is not None:
                    # a climb for a repeat that got no usable reply keeps the repeat: the step
                    # is no worse than without the climb (traces: a 1.5B top model with one
                    # try wrote a made-up Observation instead, and that ended the run)
                    return repeat
                raise PlanningFailed(problem)
            reason = (
                f"format: {problem}"
                if reply is None
                else f"repeat: {reply.action} with the same input as in each of the last "
                f"{self.repeat_limit} steps"
            )
            above = self.levels[level + 1].model.name
            self.recorder.escalation(self.levels[level].model.name, above, reason)
            # A stronger model shown the same history continues the repeat (traces: the 1.5B
            # repeated the 0.5B's proposal at every climb without it), so it is told what to
            # avoid; told at the climb, it costs one lifeline instead of a try and a second ask.
            feedback = [] if reply is None else self._repeat_feedback(reply)
            level += 1

    def _shown_of(self, history: Sequence[Step], shown_steps: int | None) -> list[Step]:
        count = self.short_term_steps if shown_steps is None else shown_steps
        return list(history)[len(history) - min(count, len(history)) :]

    def _show(self, steps: int) -> None:
        """Render this step's prompts with the last `steps` steps shown."""
        self._shown = steps
        self.last_prompt = self.prompt(*self._situation, shown_steps=steps)
        self.last_conversation = self.conversation(*self._situation, shown_steps=steps)

    def _complete(self, rung: Level, extra: Sequence[Message]) -> Completion:
        """One call; a prompt too long for the model drops the oldest shown step and is sent
        again, down to no step shown (an 8k local context, a long observation: traces)."""
        while True:
            messages = [*self.last_conversation, *extra]
            try:
                completion = rung.model.complete(
                    messages,
                    agent="planner",
                    temperature=self.temperature,
                    max_tokens=rung.max_tokens,
                )
            except ContextOverflowError:
                if self._shown == 0:
                    raise
                self._show(self._shown - 1)
                self.recorder.context_trimmed(rung.model.name, self._shown)
                continue
            self.recorder.llm_call("planner", messages, completion)
            return completion

    def observe(self, step: Step) -> None:
        if self.memory:
            self.memory.record(step)

    def _steer_away(self, level: int, repeat: PlannerReply) -> PlannerReply:
        """A repeat with nobody stronger to ask: point it out once, keep the answer either way.

        Small models otherwise loop on one failing action until the step cap (seen in traces).
        """
        retry, _ = self._ask(level, self._repeat_feedback(repeat))
        return retry if retry is not None else repeat

    def _repeat_feedback(self, repeat: PlannerReply) -> list[Message]:
        return [
            Message("assistant", truncate_middle(repeat.canonical(), MAX_REPLY_CHARS)),
            Message(
                "user",
                f"You proposed {repeat.action} with the same input as in each of your last "
                f"{self.repeat_limit} steps; the observations above show where that leads. "
                "Choose a different action or a different input, in the required format.",
            ),
        ]

    def _ask(self, level: int, feedback: Sequence[Message] = ()) -> tuple[PlannerReply | None, str]:
        """Up to m tries at one level, feeding each format error back; (reply, last problem)."""
        rung = self.levels[level]
        signatures: Mapping[str, Sequence[str]] = {a.name: a.input_names for a in self.actions}
        extra = list(feedback)
        problem = ""
        for attempt in range(1, rung.retries + 1):
            if costs_a_lifeline(level, self.levels) and not self.lifelines.take():
                return None, f"{problem} (no lifelines left for {rung.model.name})".strip()
            completion = self._complete(rung, extra)
            try:
                return parse_reply(completion.text, signatures), ""
            except FormatError as exc:
                problem = str(exc)
                self.recorder.format_failure(rung.model.name, attempt, problem)
                extra = [
                    *extra,
                    Message(
                        "assistant", truncate_middle(completion.text, MAX_REJECTED_REPLY_CHARS)
                    ),
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
