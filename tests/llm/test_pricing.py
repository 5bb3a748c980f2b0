"""resolve_price: config first, scripted free, then litellm's table, else a helpful ModelError."""

from __future__ import annotations

import pytest

from budgetml.config import Price
from budgetml.errors import ModelError
from budgetml.llm.pricing import FREE, resolve_price


def test_a_config_price_overrides_the_table() -> None:
    mine = Price(input=9.0, output=9.0)
    assert resolve_price("gpt-4o-mini", {"gpt-4o-mini": mine}) == mine


def test_scripted_models_are_free_unless_priced() -> None:
    assert resolve_price("scripted:demo.json", {}) == FREE
    priced = Price(input=1.0, output=1.0)
    assert resolve_price("scripted:demo.json", {"scripted:demo.json": priced}) == priced


def test_a_known_hosted_model_gets_the_table_price() -> None:
    price = resolve_price("gpt-4o-mini", {})
    assert price.input > 0 and price.output > 0


def test_an_unknown_hosted_model_says_how_to_add_a_price() -> None:
    with pytest.raises(ModelError) as err:
        resolve_price("openai/no-such-model-xyz", {})
    assert "add it to the config" in str(err.value)
    assert "prices:" in str(err.value)
