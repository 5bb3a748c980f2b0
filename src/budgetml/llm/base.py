"""The Model protocol and the values that cross it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from budgetml.config import Price

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
    cached: bool = False  # served from a response cache or a replay: nothing was charged
    recovered: bool = False  # a resumed run's call, answered with the reply paid for before


@dataclass(frozen=True)
class ReplyFormat:
    """The shape a reply must take, for models that can be held to it.

    `grammar` (GBNF) is what llama.cpp samples under, so an embedded model cannot leave it;
    `json_schema` is the same shape as a JSON object, for providers with structured output
    (the caller turns such a JSON reply back into text). A model that can do neither ignores it.
    """

    name: str
    grammar: str
    json_schema: dict[str, Any]


def cost_usd(usage: Usage, price: Price) -> float:
    """Dollar cost of one call; cached prompt tokens use the cached price when there is one."""
    cached = usage.cached_input_tokens if price.cached_input is not None else 0
    cached_price = price.cached_input or 0.0
    return (
        (usage.input_tokens - cached) * price.input
        + cached * cached_price
        + usage.output_tokens * price.output
    ) / 1_000_000


class Model(Protocol):
    """Anything that turns a conversation into a priced reply."""

    @property
    def name(self) -> str: ...

    @property
    def price(self) -> Price: ...

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        """`agent` names the caller (e.g. "planner"); scripted models keep one script per agent.
        `reply_format`, where the model supports one, constrains the reply's shape."""
        ...

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Prompt tokens `messages` will cost, or a safe over-estimate: budgets rely on it."""
        ...


@dataclass
class ModelWrapper:
    """A policy around a model (budget, cache) that passes its identity through unchanged."""

    inner: Model

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def price(self) -> Price:
        return self.inner.price

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return self.inner.count_tokens(messages)
