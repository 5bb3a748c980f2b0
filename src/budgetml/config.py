"""Run configuration: a typed, validated schema and the YAML presets shipped with the package.

Every hyper-parameter has its default here, once; presets only name what differs.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from budgetml.errors import ConfigError

DEFAULT_PRESET = "budget"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(_Strict):
    """One model as litellm names it (or `scripted:PATH`), with how hard to try it."""

    model: str = Field(min_length=1)
    retries: int = Field(default=3, ge=1, description="m: tries before a format failure escalates")
    api_base: str | None = None
    max_tokens: int = Field(default=2000, gt=0)


class Price(_Strict):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    free_tier: bool = False


class Temperature(_Strict):
    planner: float = Field(default=0.2, ge=0, le=2)
    worker: float = Field(default=0.01, ge=0, le=2)


class SandboxConfig(_Strict):
    python: str | None = Field(default=None, description="interpreter for scripts; None = ours")
    script_timeout_s: float | None = Field(
        default=None, gt=0, description="overrides the task's per-script timeout"
    )
    output_limit_chars: int = Field(default=10_000, ge=200)


class RunConfig(_Strict):
    planner: list[ModelEntry] = Field(min_length=1, description="the cascade, cheapest first")
    worker: ModelEntry | None = Field(default=None, description="None: the cheapest planner's")
    expert: ModelEntry | None = Field(default=None, description="None: no ask-the-expert action")
    lifelines: int = Field(default=5, ge=0, description="l: expert calls + top-level cascade calls")
    repeat_limit: int = Field(default=3, ge=1, description="r: identical steps before climbing")
    retrieval: bool = Field(default=False, description="research-log summaries and retrieval")
    short_term_steps: int = Field(default=3, ge=1)
    max_steps: int = Field(default=30, ge=1)
    temperature: Temperature = Temperature()
    prices: dict[str, Price] = Field(default_factory=dict)
    budget_usd: float | None = Field(default=None, gt=0, description="hard cap for the run")
    cache: bool = Field(default=False, description="answer repeated calls from the cache")
    sandbox: SandboxConfig = SandboxConfig()

    @property
    def worker_model(self) -> ModelEntry:
        return self.worker or self.planner[0]

    def with_model(self, model: str, api_base: str | None = None) -> RunConfig:
        """The same config with `model` in every role (the cascade collapses to one level)."""
        entry = ModelEntry(model=model, api_base=api_base)
        expert = entry if self.expert is not None else None
        return self.model_copy(update={"planner": [entry], "worker": entry, "expert": expert})

    def with_settings(self, **settings: Any) -> RunConfig:
        """The same config with top-level settings replaced, validated again."""
        try:
            return RunConfig.model_validate({**self.model_dump(), **settings})
        except ValidationError as exc:
            raise ConfigError(f"invalid setting: {describe_validation_error(exc)}") from None

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def preset_names() -> list[str]:
    folder = resources.files("budgetml") / "presets"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_config(name_or_path: str | None = None) -> tuple[str, RunConfig]:
    """Load a preset by name or a YAML file by path; returns (label, config)."""
    name_or_path = name_or_path or DEFAULT_PRESET
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return str(path), parse_config(
            path.read_text(encoding="utf-8", errors="replace"), str(path)
        )
    if name_or_path not in preset_names():
        raise ConfigError(
            f"no preset named {name_or_path!r} and no such file; "
            f"presets: {', '.join(preset_names())}"
        )
    text = (resources.files("budgetml") / "presets" / f"{name_or_path}.yaml").read_text("utf-8")
    return name_or_path, parse_config(text, f"preset {name_or_path}")


def parse_config(text: str, source: str) -> RunConfig:
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {_first_line(str(exc))}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a YAML mapping of settings, got {type(data).__name__}")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation_error(exc)}") from None


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem pydantic found, as `where: what`, plus how many more there are."""
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{where}: {message}{more}"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
