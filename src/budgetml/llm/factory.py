"""Build the model a ModelEntry names: a scripted replay or anything litellm can call."""

from __future__ import annotations

from budgetml.config import ModelEntry, Price
from budgetml.llm.base import Model
from budgetml.llm.litellm_model import LiteLLMModel
from budgetml.llm.pricing import resolve_price
from budgetml.llm.scripted import ScriptedModel, resolve_script_path

SCRIPTED_PREFIX = "scripted:"


def make_model(entry: ModelEntry, prices: dict[str, Price], seed: int | None) -> Model:
    """`scripted:PATH` replays a JSON script; any other name goes to litellm, priced up front."""
    price = resolve_price(entry.model, prices)
    if entry.model.startswith(SCRIPTED_PREFIX):
        path = resolve_script_path(entry.model.removeprefix(SCRIPTED_PREFIX))
        return ScriptedModel(entry.model, path, price)
    return LiteLLMModel(entry, price, seed=seed)
