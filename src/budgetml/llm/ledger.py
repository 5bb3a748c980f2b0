"""What every model call cost, per model, in the paper's two figures (paid and free tier).

`cost_usd` prices every call of the run, so a replayed run reports the same cost as the
original; `spent_usd` counts only calls that were really made and charged now.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from budgetml.llm.base import Completion


@dataclass
class ModelTally:
    calls: int = 0
    input: int = 0
    output: int = 0
    cached_input: int = 0
    cost_usd: float = 0.0
    cached_calls: int = 0
    spent_usd: float = 0.0


@dataclass
class CostLedger:
    free_tier_models: frozenset[str] = frozenset()
    per_model: dict[str, ModelTally] = field(default_factory=dict)

    def add(self, completion: Completion) -> None:
        tally = self.per_model.setdefault(completion.model, ModelTally())
        tally.calls += 1
        tally.input += completion.usage.input_tokens
        tally.output += completion.usage.output_tokens
        tally.cached_input += completion.usage.cached_input_tokens
        tally.cost_usd += completion.cost_usd
        if completion.cached:
            tally.cached_calls += 1
        else:
            tally.spent_usd += completion.cost_usd

    @property
    def cost_usd(self) -> float:
        return sum(t.cost_usd for t in self.per_model.values())

    @property
    def spent_usd(self) -> float:
        """What was actually charged now: calls served from a cache or a replay cost nothing."""
        return sum(t.spent_usd for t in self.per_model.values())

    @property
    def cost_usd_free_tier(self) -> float:
        """The cost with free-tier models at $0, the paper's second figure."""
        return sum(t.cost_usd for m, t in self.per_model.items() if m not in self.free_tier_models)

    def tokens_summary(self) -> dict[str, dict[str, float | int]]:
        return {
            model: {
                "calls": t.calls,
                "input": t.input,
                "output": t.output,
                "cached_input": t.cached_input,
                "cost_usd": round(t.cost_usd, 8),
                "cached_calls": t.cached_calls,
            }
            for model, t in self.per_model.items()
        }
