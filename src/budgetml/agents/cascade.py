"""The LLM cascade's rules: when a step climbs to a pricier model, and the lifelines that
cap calls to the top one (shared with ask-the-expert).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from budgetml.agents.parser import PlannerReply
from budgetml.llm.base import Model

if TYPE_CHECKING:
    from budgetml.agents.planner import Step


@dataclass(frozen=True)
class Level:
    """One rung of the cascade: a model and how many tries (m) it gets per step."""

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


def costs_a_lifeline(level: int, levels: Sequence[Level]) -> bool:
    """Calls to the top of a real cascade are the expensive ones; a single level is not."""
    return len(levels) > 1 and level == len(levels) - 1


def can_climb(level: int, levels: Sequence[Level], lifelines: Lifelines) -> bool:
    above = level + 1
    if above >= len(levels):
        return False
    return not costs_a_lifeline(above, levels) or lifelines.remaining > 0


def repeats_itself(reply: PlannerReply, history: Sequence[Step], repeat_limit: int) -> bool:
    """The proposal is the action, with the same input, taken in each of the last r steps."""
    recent = list(history)[-repeat_limit:]
    return len(recent) == repeat_limit and all(
        step.reply.action == reply.action and step.reply.action_input == reply.action_input
        for step in recent
    )
