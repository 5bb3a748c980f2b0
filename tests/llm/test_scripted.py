"""ScriptedModel: replays a JSON script (list or per-agent), counts tokens, fails in one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import budgetml
from budgetml.config import ModelEntry, Price
from budgetml.errors import ModelError, ScriptExhaustedError
from budgetml.llm import scripted
from budgetml.llm.base import Message
from budgetml.llm.factory import make_model
from budgetml.llm.scripted import ScriptedModel, resolve_script_path

PRICE = Price(input=1.0, output=2.0)
PROMPT = [Message("system", "abcd" * 5), Message("user", "xyz")]  # 23 chars -> 6 tokens


def _script(tmp_path: Path, data: Any) -> ScriptedModel:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(data))
    return ScriptedModel(f"scripted:{path}", path, PRICE)


def _ask(model: ScriptedModel, agent: str = "planner") -> str:
    return model.complete(PROMPT, agent=agent, temperature=0.0, max_tokens=10).text


def test_list_form_replays_in_order_for_any_agent(tmp_path: Path) -> None:
    model = _script(tmp_path, ["one", "two"])
    assert [_ask(model, "planner"), _ask(model, "worker")] == ["one", "two"]
    assert model.name == f"scripted:{tmp_path / 'script.json'}"


def test_per_agent_form_keeps_one_queue_per_agent(tmp_path: Path) -> None:
    model = _script(tmp_path, {"planner": ["p1", "p2"], "worker": ["w1"]})
    assert [_ask(model, "planner"), _ask(model, "worker"), _ask(model, "planner")] == [
        "p1",
        "w1",
        "p2",
    ]


def test_tokens_are_estimated_from_characters_and_priced(tmp_path: Path) -> None:
    done = _script(tmp_path, ["123456789"]).complete(
        PROMPT, agent="planner", temperature=0.0, max_tokens=10
    )
    assert (done.usage.input_tokens, done.usage.output_tokens) == (6, 3)
    assert done.cost_usd == pytest.approx((6 * 1.0 + 3 * 2.0) / 1e6)
    assert done.latency_s >= 0


def test_fixed_token_counts_win_over_the_estimate(tmp_path: Path) -> None:
    model = _script(tmp_path, [{"text": "hi", "input_tokens": 1000, "output_tokens": 50}])
    done = model.complete(PROMPT, agent="planner", temperature=0.0, max_tokens=10)
    assert (done.text, done.usage.input_tokens, done.usage.output_tokens) == ("hi", 1000, 50)
    assert done.cost_usd == pytest.approx((1000 * 1.0 + 50 * 2.0) / 1e6)


def test_exhaustion_names_the_file_agent_and_count(tmp_path: Path) -> None:
    model = _script(tmp_path, {"planner": ["only"]})
    _ask(model)
    with pytest.raises(ScriptExhaustedError) as err:
        _ask(model)
    assert str(err.value).startswith(
        "scripted model script.json has no reply left for planner (it held 1);"
    )


def test_an_agent_without_a_script_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(
        ModelError, match="no script for agent 'worker'; it has scripts for planner"
    ):
        _ask(_script(tmp_path, {"planner": ["p"]}), "worker")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not valid JSON"),
        ('"just a string"', "must hold a list of replies"),
        ("{}", "must hold a list of replies"),
        ('{"planner": "p"}', "agent 'planner' must be a list of replies"),
        ("[1]", "reply 1 must be a string or an object"),
        ('[{"txt": "x"}]', "needs a string 'text'"),
        ('[{"text": "x", "tokens": 3}]', "unknown key(s) tokens"),
        ('[{"text": "x", "output_tokens": -1}]', "'output_tokens' to be a non-negative integer"),
    ],
)
def test_malformed_files_fail_in_one_line_naming_the_file(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ModelError) as err:
        ScriptedModel("scripted:bad.json", path, PRICE)
    message = str(err.value)
    assert str(path) in message
    assert expected in message
    assert "\n" not in message


def test_path_is_taken_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.json").write_text("[]")
    assert resolve_script_path("mine.json") == Path("mine.json")


def test_missing_file_falls_back_to_the_demo_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "replay.json").write_text('["from the demo folder"]')
    monkeypatch.setattr(scripted, "_demo_folder", lambda: demo)
    monkeypatch.chdir(tmp_path)
    model = make_model(ModelEntry(model="scripted:replay.json"), {}, seed=None)
    assert model.name == "scripted:replay.json"
    done = model.complete(PROMPT, agent="planner", temperature=0.0, max_tokens=10)
    assert (done.text, done.cost_usd) == ("from the demo folder", 0.0)


def test_the_demo_folder_is_the_packaged_one() -> None:
    assert scripted._demo_folder() == Path(budgetml.__file__).parent / "demo"


def test_a_file_in_neither_place_names_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError) as err:
        resolve_script_path("nowhere.json")
    assert str(tmp_path / "nowhere.json") in str(err.value)
    assert str(scripted._demo_folder()) in str(err.value)
