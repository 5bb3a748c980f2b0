import json
from pathlib import Path

from budgetml.config import Price
from budgetml.llm.base import Message
from budgetml.llm.cache import CachedModel, ResponseCache
from budgetml.llm.scripted import ScriptedModel

PRICE = Price(input=1.0, output=2.0)
PROMPT = [Message("system", "be brief"), Message("user", "hello")]


def scripted(tmp_path: Path, replies: list[str]) -> ScriptedModel:
    script = tmp_path / "s.json"
    script.write_text(json.dumps(replies))
    return ScriptedModel("scripted:s.json", script, PRICE)


def test_a_repeated_call_is_answered_from_the_cache(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    model = CachedModel(scripted(tmp_path, ["first"]), cache, seed=1)
    fresh = model.complete(PROMPT, agent="planner", temperature=0.2, max_tokens=50)
    again = model.complete(PROMPT, agent="planner", temperature=0.2, max_tokens=50)
    assert (fresh.text, fresh.cached) == ("first", False)
    assert (again.text, again.cached) == ("first", True)
    assert (again.usage, again.cost_usd) == (fresh.usage, fresh.cost_usd)


def test_the_key_covers_messages_sampling_and_seed(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    inner = scripted(tmp_path, ["a", "b", "c", "d", "e"])
    CachedModel(inner, cache, seed=1).complete(PROMPT, agent="p", temperature=0.2, max_tokens=50)
    variants = [
        (CachedModel(inner, cache, seed=2), PROMPT, 0.2, 50),
        (CachedModel(inner, cache, seed=1), PROMPT, 0.7, 50),
        (CachedModel(inner, cache, seed=1), PROMPT, 0.2, 60),
        (CachedModel(inner, cache, seed=1), [*PROMPT, Message("user", "more")], 0.2, 50),
    ]
    texts = [m.complete(p, agent="p", temperature=t, max_tokens=n).text for m, p, t, n in variants]
    assert texts == ["b", "c", "d", "e"]


def test_the_cache_file_is_shared_between_connections(tmp_path: Path) -> None:
    first = CachedModel(scripted(tmp_path, ["stored"]), ResponseCache(tmp_path / "c.sqlite"), 0)
    first.complete(PROMPT, agent="p", temperature=0.2, max_tokens=5)
    second = CachedModel(scripted(tmp_path, []), ResponseCache(tmp_path / "c.sqlite"), 0)
    hit = second.complete(PROMPT, agent="p", temperature=0.2, max_tokens=5)
    assert hit.text == "stored" and hit.cached
