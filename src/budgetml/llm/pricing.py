"""Per-token prices: from the config when given, else from litellm's table; never guessed.

What a call costs at a price is `llm.base.cost_usd`, which every model uses.
"""

from __future__ import annotations

from budgetml.config import Price
from budgetml.errors import ModelError

FREE = Price(input=0.0, output=0.0)
SCRIPTED_PREFIX = "scripted:"
LOCAL_PREFIX = "local/"


def resolve_price(model: str, overrides: dict[str, Price]) -> Price:
    """The price for `model`; scripted and embedded local models are free unless the config
    prices them (to compare with what a hosted provider would charge)."""
    if model in overrides:
        return overrides[model]
    if model.startswith((SCRIPTED_PREFIX, LOCAL_PREFIX)):
        return FREE
    # here, not at the top: a scripted or embedded run never loads the litellm module
    from budgetml.llm.litellm_model import litellm_price

    price = litellm_price(model)
    if price is None:
        raise ModelError(
            f"no known price for model {model!r}; add it to the config, e.g. "
            f"prices: {{{model!r}: {{input: 0.5, output: 1.5}}}} (USD per million tokens), "
            f"or mark it free with input: 0, output: 0"
        )
    return price
