from pathlib import Path

import pytest

from budgetml.config import load_config, parse_config, preset_names
from budgetml.errors import ConfigError


def test_the_demo_preset_has_the_paper_defaults() -> None:
    label, config = load_config("demo")
    assert label == "demo"
    assert config.max_steps == 30
    assert config.short_term_steps == 3
    assert config.temperature.planner == 0.2
    assert config.planner[0].model.startswith("scripted:")
    assert "demo" in preset_names()


def test_a_yaml_file_is_loaded_and_with_model_sets_every_role(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "planner:\n  - {model: a, retries: 3}\n  - {model: b, retries: 1}\nmax_steps: 7\n"
        "prices:\n  a: {input: 1, output: 2}\n"
    )
    label, config = load_config(str(path))
    assert label == str(path) and config.max_steps == 7
    single = config.with_model("openai/x", "http://127.0.0.1:9/v1")
    assert [(e.model, e.api_base) for e in single.planner] == [
        ("openai/x", "http://127.0.0.1:9/v1")
    ]
    assert single.with_settings(max_steps=3).max_steps == 3


def test_the_resolved_config_round_trips_through_yaml() -> None:
    _, config = load_config("demo")
    assert parse_config(config.to_yaml(), "round trip") == config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("planner: []\n", "planner: List should have at least 1 item"),
        ("planner: [{model: a}]\nmax_steps: -2\n", "max_steps: Input should be greater than"),
        ("planner: [{model: a}]\nmax_step: 3\n", "max_step: unknown key"),
        ("planner: [{model: a, retries: two}]\n", "planner.0.retries"),
        ("planner: [{model: a}]\nprices: {a: {input: -1, output: 1}}\n", "prices.a.input"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("planner: [\n", "not valid YAML"),
        ("max_steps: 3\n", "planner: Field required"),
    ],
)
def test_malformed_configs_get_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config(text, "my.yaml")
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("my.yaml")


def test_unknown_preset_and_missing_file_are_named() -> None:
    with pytest.raises(ConfigError, match="no preset named 'nope'.*demo"):
        load_config("nope")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("missing.yaml")


def test_an_invalid_override_is_a_config_error() -> None:
    _, config = load_config("demo")
    with pytest.raises(ConfigError, match="budget_usd: Input should be greater than 0"):
        config.with_settings(budget_usd=0)
