"""Build the model a ModelEntry names: scripted, embedded local, or anything litellm can call."""

from __future__ import annotations

from budgetml.config import ModelEntry, Price
from budgetml.llm.base import Model
from budgetml.llm.pricing import LOCAL_PREFIX, SCRIPTED_PREFIX, resolve_price


def make_model(entry: ModelEntry, prices: dict[str, Price], seed: int | None) -> Model:
    """`scripted:PATH` replays a JSON script, `local/NAME_OR_GGUF` runs in-process with
    llama.cpp, any other name goes to litellm; each is priced up front."""
    price = resolve_price(entry.model, prices)
    if entry.model.startswith(SCRIPTED_PREFIX):
        from budgetml.llm.scripted import ScriptedModel, resolve_script_path

        path = resolve_script_path(entry.model.removeprefix(SCRIPTED_PREFIX))
        return ScriptedModel(entry.model, path, price)
    if entry.model.startswith(LOCAL_PREFIX):
        from budgetml.llm.local import LocalModel
        from budgetml.llm.model_registry import resolve_local_model

        path = resolve_local_model(entry.model.removeprefix(LOCAL_PREFIX))
        return LocalModel(entry.model, path, price, seed=seed)
    from budgetml.llm.litellm_model import LiteLLMModel

    return LiteLLMModel(entry, price, seed=seed)
