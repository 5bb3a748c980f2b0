"""The Model protocol and the values that cross it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0


@dataclass(frozen=True)
class Completion:
    """One model reply with what it cost."""

    text: str
    model: str
    usage: Usage
    cost_usd: float
    latency_s: float


class Model(Protocol):
    """Anything that turns a conversation into a priced reply."""

    name: str

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
    ) -> Completion:
        """`agent` names the caller (e.g. "planner"); scripted models keep one script per agent."""
        ...
