import pytest

from budgetml.config import Price
from budgetml.llm.base import Completion, Usage, cost_usd
from budgetml.llm.ledger import CostLedger

CHEAP = Price(input=0.5, output=1.5, free_tier=True)
STRONG = Price(input=10.0, output=30.0, cached_input=2.5)


def call(model: str, price: Price, usage: Usage, cached: bool = False) -> Completion:
    return Completion("x", model, usage, cost_usd(usage, price), 0.1, cached=cached)


def test_mixed_free_tier_and_paid_models_give_the_papers_two_figures() -> None:
    ledger = CostLedger(free_tier_models=frozenset({"cheap"}))
    ledger.add(call("cheap", CHEAP, Usage(1000, 200)))
    ledger.add(call("cheap", CHEAP, Usage(3000, 100)))
    ledger.add(call("strong", STRONG, Usage(2000, 500, cached_input_tokens=1500)))
    cheap = (4000 * 0.5 + 300 * 1.5) / 1e6
    strong = (500 * 10.0 + 1500 * 2.5 + 500 * 30.0) / 1e6
    assert ledger.cost_usd == pytest.approx(cheap + strong)
    assert ledger.cost_usd_free_tier == pytest.approx(strong)
    tally = ledger.tokens_summary()
    assert tally["cheap"]["calls"] == 2 and tally["cheap"]["input"] == 4000
    assert tally["strong"]["cached_input"] == 1500


def test_cached_tokens_cost_the_input_price_when_no_cached_price_is_set() -> None:
    usage = Usage(1000, 0, cached_input_tokens=800)
    assert cost_usd(usage, Price(input=1.0, output=0)) == pytest.approx(1000 / 1e6)
    assert cost_usd(usage, Price(input=1.0, output=0, cached_input=0.1)) == pytest.approx(
        (200 + 80) / 1e6
    )


def test_calls_served_from_a_cache_count_in_cost_but_not_in_spending() -> None:
    ledger = CostLedger()
    ledger.add(call("strong", STRONG, Usage(100, 10)))
    ledger.add(call("strong", STRONG, Usage(100, 10), cached=True))
    assert ledger.cost_usd == pytest.approx(2 * ledger.spent_usd)
    assert ledger.tokens_summary()["strong"]["cached_calls"] == 1
