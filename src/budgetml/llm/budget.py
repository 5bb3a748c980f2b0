"""The hard budget: a call that could cross the cap is never made."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from budgetml.config import Price
from budgetml.llm.base import Completion, Message, ModelWrapper, ReplyFormat
from budgetml.llm.ledger import CostLedger


class BudgetExhausted(Exception):
    """The next call's worst case would cross the run's budget; the run stops before it."""


def worst_case_usd(prompt_tokens: int, max_tokens: int, price: Price) -> float:
    """Every prompt token at the full input price and the reply at its longest."""
    return (prompt_tokens * price.input + max_tokens * price.output) / 1_000_000


@dataclass
class BudgetGuard(ModelWrapper):
    """Checks the ledger's spending plus the call's worst case against the cap."""

    ledger: CostLedger
    cap_usd: float

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        worst = worst_case_usd(self.count_tokens(messages), max_tokens, self.price)
        spent = self.ledger.spent_usd
        if spent + worst > self.cap_usd:
            raise BudgetExhausted(
                f"the next {agent} call to {self.name} could cost up to ${worst:.6f}; with "
                f"${spent:.6f} spent it could cross the ${self.cap_usd:g} budget"
            )
        return self.inner.complete(
            messages,
            agent=agent,
            temperature=temperature,
            max_tokens=max_tokens,
            reply_format=reply_format,
        )
