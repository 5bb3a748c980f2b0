"""An experiment file: a sweep written down, so one short command reruns (and resumes) it."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from budgetml.config import describe_validation_error
from budgetml.errors import ConfigError


class Experiment(BaseModel):
    """Tasks × configs × runs into `out`; relative paths are relative to the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tasks: list[str] = Field(default_factory=list)
    configs: list[str] = Field(default_factory=list)
    runs: int = Field(default=1, ge=1)
    out: Path | None = None


def load_experiment(path: Path) -> Experiment:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read the experiment file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping with tasks, configs, runs and out")
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc)}") from None
    here = path.resolve().parent
    return experiment.model_copy(
        update={
            "tasks": [_beside(here, t) for t in experiment.tasks],
            "configs": [_beside(here, c) for c in experiment.configs],
            "out": None if experiment.out is None else (here / experiment.out).resolve(),
        }
    )


def _beside(folder: Path, name: str) -> str:
    """A name that is a file or folder next to the experiment file becomes its path."""
    candidate = folder / name
    return str(candidate) if candidate.exists() else name
