"""The LLM cascade's policy, all of it: the levels and their tries, when a step climbs to a
pricier model, what a climb is told, and the lifelines that cap calls to the top one (shared
with ask-the-expert).

A step starts at the cheapest level. It climbs one level when that model fails the format
`retries` (m) times, or proposes the action (and input) it took in each of the last
`repeat_limit` (r) steps; calls to the top of a multi-level cascade spend lifelines. A climb
for a repeat does not offer the repeated action to the stronger model, and tells it why; if its
higher levels give no usable reply the repeated proposal is kept. Only a step with no usable
reply at any level fails the run. A repeat with nobody stronger to ask is asked again once,
without the repeated action. Optionally (`climb_for`), a step whose cheap reply picks one of
some decisive actions (an edit) is written by the next level up instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from budgetml.agents.history import Step
from budgetml.agents.parser import FormatError, PlannerReply
from budgetml.agents.recorder import CallRecorder
from budgetml.llm.base import Completion, Message, Model
from budgetml.textutil import truncate_middle

MAX_REJECTED_REPLY_CHARS = 2_000
"""How much of an unusable reply a retry shows back: enough to see the mistake. Small models
sometimes repeat a key until max_tokens; echoing all of it overflowed an 8k context (traces)."""


class PlanningFailed(Exception):
    """No level of the cascade gave a usable reply."""


class NotOffered(FormatError):
    """A well-formed reply the step refuses for what it chose: an action whose result is known
    (it failed or changed nothing, and nothing changed since), or a file a copy may not
    overwrite. The next try is not offered that action: told only why, the 0.5B sent the same
    refused reply three times and the run ended there (traces)."""

    def __init__(self, message: str, action: str) -> None:
        super().__init__(message)
        self.action = action


@dataclass(frozen=True)
class Level:
    """One level of the cascade: a model and how many tries (m) it gets per step."""

    model: Model
    retries: int
    max_tokens: int


@dataclass
class Lifelines:
    """The run's `l` calls to the strong model: expert requests and top-level cascade calls."""

    total: int
    used: int = 0

    @property
    def remaining(self) -> int:
        return self.total - self.used

    def take(self) -> bool:
        """Spend one lifeline if any is left."""
        if self.remaining <= 0:
            return False
        self.used += 1
        return True


class Planning(Protocol):
    """What the cascade asks of the planner at one step: a call and a parse, with some actions
    left out of what is offered (`avoid`)."""

    def complete(
        self, level: Level, extra: Sequence[Message], avoid: frozenset[str]
    ) -> Completion: ...

    def parse(self, text: str, avoid: frozenset[str]) -> PlannerReply: ...


@dataclass
class Cascade:
    """The levels, cheapest first; a level's `index` is its place in `levels` (0: the cheapest)."""

    levels: tuple[Level, ...]
    repeat_limit: int
    lifelines: Lifelines
    recorder: CallRecorder
    climb_for: frozenset[str] = frozenset()
    """Actions whose step a stronger model writes when the cheap one picks them (`climb_for`):
    an edit is only as good as its instruction, and the 0.5B's instructions echoed the prompt
    (traces); the stronger model's reply is taken, whatever it does, and the cheap one's kept
    if it gives none."""

    def next_reply(self, planning: Planning, history: Sequence[Step]) -> PlannerReply:
        """The reply of the cheapest level that gives a usable, non-repeating one."""
        index = 0
        repeat: PlannerReply | None = None  # a usable proposal a climb tried to improve on
        avoid: frozenset[str] = frozenset()
        feedback: list[Message] = []
        while True:
            reply, problem = self._ask(planning, index, feedback, avoid)
            if reply is not None and not self.repeats_itself(reply, history):
                if reply.action in self.climb_for and self._can_climb(index):
                    return self._decided_above(planning, index, reply)
                return reply
            repeat = reply or repeat
            if not self._can_climb(index):
                if reply is not None:
                    if feedback:  # told of the repeat at the climb, it insists: go ahead
                        return reply
                    return self._steer_away(planning, index, reply)
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
            self.recorder.escalation(
                self.levels[index].model.name, self.levels[index + 1].model.name, reason
            )
            if reply is not None:
                # shown the same history, the stronger model continued the repeat (traces),
                # so it is not offered the repeated action and is told why
                feedback = self._repeat_feedback(reply)
                avoid = frozenset({reply.action})
            index += 1

    def _decided_above(self, planning: Planning, index: int, cheap: PlannerReply) -> PlannerReply:
        """The step of a `climb_for` action, written by the next level up (one climb)."""
        above = self.levels[index + 1]
        self.recorder.escalation(
            self.levels[index].model.name, above.model.name, f"decisive: {cheap.action}"
        )
        reply, _ = self._ask(planning, index + 1, [], frozenset())
        return reply if reply is not None else cheap

    def repeats_itself(self, reply: PlannerReply, history: Sequence[Step]) -> bool:
        """The proposal is the action, with the same input, taken in each of the last r steps."""
        recent = list(history)[-self.repeat_limit :]
        return len(recent) == self.repeat_limit and all(
            step.reply.action == reply.action and step.reply.action_input == reply.action_input
            for step in recent
        )

    def costs_a_lifeline(self, index: int) -> bool:
        """Calls to the top of a real cascade are the expensive ones; a single level is not."""
        return len(self.levels) > 1 and index == len(self.levels) - 1

    def _can_climb(self, index: int) -> bool:
        if index + 1 >= len(self.levels):
            return False
        return not self.costs_a_lifeline(index + 1) or self.lifelines.remaining > 0

    def _steer_away(self, planning: Planning, index: int, repeat: PlannerReply) -> PlannerReply:
        """A repeat with nobody stronger to ask: ask once more (one try) without the repeated
        action, keep the repeat if that gives nothing usable (small models otherwise loop on
        one failing action until the step cap: traces)."""
        avoid = frozenset({repeat.action})
        retry, _ = self._ask(planning, index, self._repeat_feedback(repeat), avoid, tries=1)
        return retry if retry is not None else repeat

    def _repeat_feedback(self, repeat: PlannerReply) -> list[Message]:
        return [
            Message("assistant", truncate_middle(repeat.canonical(), MAX_REJECTED_REPLY_CHARS)),
            Message(
                "user",
                f"You proposed {repeat.action} with the same input as in each of your last "
                f"{self.repeat_limit} steps; the observations above show where that leads. "
                "Choose a different action, in the required format.",
            ),
        ]

    def _ask(
        self,
        planning: Planning,
        index: int,
        feedback: Sequence[Message],
        avoid: frozenset[str],
        tries: int | None = None,
    ) -> tuple[PlannerReply | None, str]:
        """Up to m tries at one level, feeding each format error back; (reply, last problem).
        An action refused for what it chose is not offered on the tries after, and that
        refusal costs no try: the reply was well-formed and the offer shrinks, so this ends.
        (Traces: counting refusals, a top level with one try ended the run at step 10 of 30,
        its two tries spent on two actions whose results were known.)"""
        level = self.levels[index]
        tries = level.retries if tries is None else tries
        extra = list(feedback)
        problem = ""
        attempt = 0
        failures = 0
        while failures < tries:
            attempt += 1
            if self.costs_a_lifeline(index) and not self.lifelines.take():
                return None, f"{problem} (no lifelines left for {level.model.name})".strip()
            completion = planning.complete(level, extra, avoid)
            try:
                return planning.parse(completion.text, avoid), ""
            except FormatError as exc:
                if isinstance(exc, NotOffered) and exc.action not in avoid:
                    avoid = avoid | {exc.action}
                else:
                    failures += 1
                problem = str(exc)
                self.recorder.format_failure(level.model.name, attempt, problem)
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
            f"{level.model.name} gave no well-formed response in {attempt} tries; "
            f"last problem: {problem}"
        )
