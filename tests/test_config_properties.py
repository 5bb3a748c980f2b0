"""Property tests: a config file with any content, or any dict of settings, is either a valid
RunConfig or a ConfigError with a one-line message; nothing else escapes."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from budgetml.config import RunConfig, config_from_dict, load_config
from budgetml.errors import ConfigError

KEYS = sorted(RunConfig.model_fields) + ["model", "input", "output", "retries", "api_base"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)
settings_dicts = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), values, max_size=8)
model_entries = st.fixed_dictionaries(
    {"model": st.text(max_size=20)},
    optional={"retries": values, "max_tokens": values, "api_base": values, "colour": values},
)


def check(load: Any) -> RunConfig | None:
    try:
        config = load()
    except ConfigError as error:
        message = str(error)
        assert message.strip() and "\n" not in message and len(message) < 2_000
        return None
    assert isinstance(config, RunConfig)
    return config


def load_file(content: bytes, suffix: str) -> RunConfig | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"config{suffix}"
        path.write_bytes(content)
        return check(lambda: load_config(str(path)))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1_000), st.sampled_from([".yaml", ".yml", ".json"]))
def test_a_config_file_of_random_bytes_is_a_config_error(content: bytes, suffix: str) -> None:
    load_file(content, suffix)


@settings(max_examples=300, deadline=None)
@given(settings_dicts, st.sampled_from(["json", "yaml"]))
def test_a_config_file_of_random_settings_loads_or_is_a_config_error(
    data: dict[Any, Any], form: str
) -> None:
    if form == "json":
        content = json.dumps(data, default=str).encode()
    else:
        content = yaml.safe_dump(data, allow_unicode=True).encode("utf-8", "surrogatepass")
    load_file(content, f".{form}")


@settings(max_examples=300, deadline=None)
@given(settings_dicts, st.lists(model_entries, max_size=3))
def test_random_dicts_validate_or_are_a_config_error(
    data: dict[Any, Any], planner: list[dict[str, Any]]
) -> None:
    check(lambda: config_from_dict(data, "settings"))
    config = check(lambda: config_from_dict({**data, "planner": planner}, "settings"))
    if config is not None:
        assert all(entry.model.strip() for entry in config.planner)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(RunConfig.model_fields)), values, max_size=4))
def test_random_overrides_are_valid_or_a_config_error(overrides: dict[str, Any]) -> None:
    base = RunConfig.model_validate({"planner": [{"model": "m"}]})
    check(lambda: base.with_settings(**overrides))
