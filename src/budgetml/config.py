"""Run configuration: a typed, validated schema and the YAML presets shipped with the package.

Every hyper-parameter has its default here, once; presets only name what differs.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from budgetml.errors import ConfigError

DEFAULT_PRESET = "budget"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(_Strict):
    """One model as litellm names it (or `scripted:PATH`), with how hard to try it."""

    model: str
    retries: int = Field(default=3, ge=1, description="m: tries before a format failure escalates")
    api_base: str | None = None
    max_tokens: int = Field(default=2000, gt=0)
    structured_output: Literal["auto", "json_schema", "json_object", "off"] = Field(
        default="auto",
        description="planner replies as structured output: json_schema = OpenAI's "
        "response_format (auto: where litellm says the model supports it), json_object = "
        "{type: json_object, schema} as llama-cpp-python's server takes it; embedded models "
        "sample under a grammar instead (constrained_replies)",
    )

    @field_validator("model")
    @classmethod
    def _a_model_name(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("the model name is empty")
        if name != name.strip() or any(ord(ch) < 32 for ch in name):
            raise ValueError(
                f"the model name {name!r} has spaces around it or control characters in it"
            )
        return name

    @field_validator("api_base")
    @classmethod
    def _an_http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(
                f"api_base must be an http:// or https:// URL (e.g. http://127.0.0.1:8080/v1), "
                f"got {url!r}"
            )
        return url


class Price(_Strict):
    """USD per million tokens."""

    input: float = Field(ge=0, allow_inf_nan=False)
    output: float = Field(ge=0, allow_inf_nan=False)
    cached_input: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    free_tier: bool = False


class Temperature(_Strict):
    planner: float = Field(default=0.2, ge=0, le=2, allow_inf_nan=False)
    worker: float = Field(default=0.01, ge=0, le=2, allow_inf_nan=False)


class SandboxConfig(_Strict):
    """How scripts run (docs/ARCHITECTURE.md, "Sandbox"); the limits hold per process."""

    python: str | None = Field(default=None, description="interpreter for scripts; None = ours")
    script_timeout_s: float | None = Field(
        default=None, gt=0, description="overrides the task's per-script timeout"
    )
    output_limit_chars: int = Field(default=10_000, ge=200)
    isolation: Literal["auto", "bubblewrap", "process"] = Field(
        default="auto",
        description="auto: bubblewrap where it works, else process (with a warning); "
        "bubblewrap: refuse to run without it; process: limits and a clean environment only",
    )
    memory_mb: int | None = Field(default=8192, gt=0, description="None: unlimited")
    cpu_seconds: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="None: the script timeout times the number of CPUs",
    )
    file_size_mb: int | None = Field(default=1024, gt=0, description="largest file a script writes")
    max_processes: int | None = Field(
        default=512, gt=0, description="processes and threads a script may run at once"
    )
    hidden_paths: list[Path] = Field(
        default_factory=list, description="hidden from scripts besides HOME, caches, run, task"
    )
    readable_paths: list[Path] = Field(
        default_factory=list, description="stay readable even inside a hidden path"
    )


class RunConfig(_Strict):
    planner: list[ModelEntry] = Field(min_length=1, description="the cascade, cheapest first")
    worker: ModelEntry | None = Field(default=None, description="None: the cheapest planner's")
    expert: ModelEntry | None = Field(default=None, description="None: no ask-the-expert action")
    lifelines: int = Field(default=5, ge=0, description="l: expert calls + top-level cascade calls")
    repeat_limit: int = Field(default=3, ge=1, description="r: identical steps before climbing")
    climb_for: list[str] = Field(
        default_factory=list,
        description="actions whose step the next level up writes when the cheapest picks them "
        "(e.g. [Edit Script (AI)]); a climb to the top spends a lifeline; [] = the paper's",
    )
    retrieval: bool = Field(default=False, description="research-log summaries and retrieval")
    short_term_steps: int = Field(default=3, ge=1)
    planner_history: Literal["steps", "turns", "transcript"] = Field(
        default="steps",
        description="steps: one message listing every step and the last observations in full; "
        "turns: shown steps as chat turns (reply, observation); transcript: one flat message",
    )
    action_set: Literal["paper", "extended"] = Field(
        default="paper",
        description="paper: the actions of the paper's Table 1 (MLAgentBench's research agent); "
        "extended: also Read File, Write File, Append File and Edit Script Segment (AI)",
    )
    constrained_replies: bool = Field(
        default=True,
        description="planner replies held to the step's format: a grammar for embedded models, "
        "structured output for providers that support it",
    )
    skip_known_results: bool = Field(
        default=True,
        description="a step does not offer an action whose result is known (re-running an "
        "unchanged script, re-reading an unchanged file), nor Final Answer before a change has "
        "run cleanly; false: the paper's behaviour",
    )
    guide_steps: bool = Field(
        default=True,
        description="after a change to a script the next step runs or revises it; after 3 "
        "steps that changed nothing, the next step changes something; false: the paper's",
    )
    edit_versions: int = Field(
        default=0,
        ge=0,
        le=10,
        description="an edit of a Python script is run before it is kept; a version whose run "
        "fails goes back to the editor with its error, up to this many versions, and if none "
        "runs nothing is kept; 0: saved unrun, the paper's",
    )
    max_steps: int = Field(default=30, ge=1)
    temperature: Temperature = Temperature()
    prices: dict[str, Price] = Field(default_factory=dict)
    budget_usd: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="hard cap for the run"
    )
    cache: bool = Field(default=False, description="answer repeated calls from the cache")
    sandbox: SandboxConfig = SandboxConfig()

    @property
    def worker_model(self) -> ModelEntry:
        return self.worker or self.planner[0]

    def with_model(self, model: str, api_base: str | None = None) -> RunConfig:
        """The same config with `model` in every role (the cascade collapses to one level)."""
        try:
            entry = ModelEntry(model=model, api_base=api_base)
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise ConfigError(f"--model/--api-base: {problem}") from None
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
    if path.suffix in (".yaml", ".yml", ".json") or path.exists():
        if path.is_dir():
            raise ConfigError(f"config {path} is a folder; give a YAML file or a preset name")
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
        return str(path), parse_config(text, str(path))
    if name_or_path not in preset_names():
        raise ConfigError(
            f"no preset named {name_or_path!r} and no such file; "
            f"presets: {', '.join(preset_names())}"
        )
    text = (resources.files("budgetml") / "presets" / f"{name_or_path}.yaml").read_text("utf-8")
    return name_or_path, parse_config(text, f"preset {name_or_path}")


def parse_config(text: str, source: str) -> RunConfig:
    """A config from YAML (or JSON) text; any problem is a ConfigError naming `source`."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {_first_line(str(exc))}") from None
    except RecursionError:
        raise ConfigError(f"{source} is not a usable config: it is nested too deeply") from None
    return config_from_dict(data, source)


BEFORE_STEP_OPTIONS: dict[str, Any] = {
    "planner_history": "turns",
    "action_set": "extended",
    "constrained_replies": False,
    "skip_known_results": False,
    "guide_steps": False,
}
"""Settings added with defaults that change what a run does, at the values every run recorded
before them had: a run's config.yaml holds every resolved value, so one that lacks these keys
ran this way, and replaying or resuming it must too."""


def parse_recorded_config(text: str, source: str) -> RunConfig:
    """The config a run recorded in its config.yaml (see BEFORE_STEP_OPTIONS)."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {_first_line(str(exc))}") from None
    if isinstance(data, dict):
        data = {**BEFORE_STEP_OPTIONS, **data}
    return config_from_dict(data, source)


def config_from_dict(data: Any, source: str) -> RunConfig:
    """Validate settings already parsed (a YAML or JSON document); errors are ConfigErrors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a YAML mapping of settings, got {type(data).__name__}")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation_error(exc)}") from None
    except RecursionError:
        raise ConfigError(f"{source} is not a usable config: it is nested too deeply") from None


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem pydantic found, as `where: what`, plus how many more there are."""
    errors = exc.errors()
    first = errors[0]
    where = _clip(".".join(str(part) for part in first["loc"]) or "(top level)")
    message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    message = message.removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{where}: {message}{more}"


def _clip(text: str, limit: int = 120) -> str:
    """Echo at most `limit` characters of a user's key, on one line."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
