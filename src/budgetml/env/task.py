"""A task: an MLAgentBench-layout folder, its goal, its baseline and how to score a workspace."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from budgetml.config import describe_validation_error
from budgetml.data.paths import data_root
from budgetml.env import eval_driver
from budgetml.env.sandbox import Sandbox
from budgetml.errors import TaskError

_SPEED_WORDS = re.compile(
    r"\b(run ?time|runtimes?|execution (time|speed)|speed( ?up)?|faster|latency|"
    r"inference time|wall[- ]clock|seconds)\b",
    re.IGNORECASE,
)


class TaskSpec(BaseModel):
    """`task.yaml`; a folder without one gets these defaults and a measured baseline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    category: str = "unknown"
    stands_in_for: str | None = None
    """The MLAgentBench task this one replaces offline (its name also finds this task)."""
    metric: str = "score"
    higher_is_better: bool = True
    baseline: float | None = None
    starter_script: str = "train.py"
    script_timeout_s: float = Field(default=600, gt=0)
    eval_timeout_s: float = Field(default=600, gt=0)


@dataclass(frozen=True)
class Score:
    value: float | None
    error: str | None = None


@dataclass(frozen=True)
class Baseline:
    value: float | None
    source: str


@dataclass(frozen=True)
class Task:
    root: Path
    spec: TaskSpec
    research_problem: str
    read_only: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def env_dir(self) -> Path:
        return self.root / "env"

    @property
    def scripts_dir(self) -> Path:
        return self.root / "scripts"

    def with_direction(self, higher_is_better: bool) -> Task:
        return replace(
            self, spec=self.spec.model_copy(update={"higher_is_better": higher_is_better})
        )

    @property
    def data_dir(self) -> Path:
        """Prepared data, outside the package and every workspace: `env/` and `private/`."""
        where = hashlib.sha256(str(self.root).encode()).hexdigest()[:8]
        return data_root() / "tasks" / f"{self.name}-{where}"

    def make_workspace(self, destination: Path) -> None:
        """A fresh copy of `env/`, plus the prepared data meant for the agent."""
        shutil.copytree(self.env_dir, destination, symlinks=True)
        prepared = self.data_dir / "env"
        if prepared.is_dir():
            shutil.copytree(prepared, destination, symlinks=True, dirs_exist_ok=True)

    def prepare(self, on_note: Callable[[str], None] = lambda note: None) -> None:
        """Run the task's `scripts/prepare.py` once per version of it.

        It runs as `python prepare.py DATA_DIR` in `scripts/`, outside the sandbox: it is the
        task author's code and may need the package registries. Ours write `DATA_DIR/env`
        (copied into each workspace) and `DATA_DIR/private` (test labels, seen only by
        eval.py); MLAgentBench's ignore the argument and fill `env/` themselves.
        """
        prepare = self.scripts_dir / "prepare.py"
        if not prepare.is_file():
            return
        stamp = self.data_dir / ".prepared"
        version = hashlib.sha256(prepare.read_bytes()).hexdigest()
        if stamp.is_file() and stamp.read_text("utf-8").strip() == version:
            return
        on_note(f"preparing the data of {self.name} (once)")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        try:
            result = subprocess.run(
                [sys.executable, "prepare.py", str(self.data_dir)],
                cwd=self.scripts_dir,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.spec.eval_timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TaskError(f"{prepare} timed out after {self.spec.eval_timeout_s:g} s") from None
        if result.returncode != 0:
            why = f"exit code {result.returncode}): {_last_line(result.stderr + result.stdout)}"
            raise TaskError(f"{prepare} failed ({why}")
        stamp.write_text(version + "\n", encoding="utf-8")

    def score(self, workspace: Path, sandbox: Sandbox, python: str) -> Score:
        """Score `workspace` with `scripts/eval.py`, run on a private copy of the scripts."""
        with tempfile.TemporaryDirectory(prefix="budgetml-eval-") as tmp:
            scripts = Path(tmp) / "scripts"
            shutil.copytree(self.scripts_dir, scripts)
            private = self.data_dir / "private"
            if private.is_dir():
                shutil.copytree(private, scripts, dirs_exist_ok=True)
            driver = Path(tmp) / "budgetml_eval_driver.py"
            shutil.copyfile(eval_driver.__file__, driver)
            argv = [python, str(driver), str(scripts / "eval.py"), str(workspace.resolve())]
            result = sandbox.run(
                argv, scripts, self.spec.eval_timeout_s, writable=[Path(tmp)], readable=[workspace]
            )
        if result.timed_out:
            return Score(None, f"eval.py timed out after {self.spec.eval_timeout_s:g} s")
        for line in reversed(result.output.splitlines()):
            if line.startswith(eval_driver.MARKER):
                outcome = json.loads(line.removeprefix(eval_driver.MARKER))
                if "score" in outcome:
                    return Score(float(outcome["score"]))
                return Score(None, str(outcome["error"]))
        return Score(None, f"eval.py ended without a score: {_last_line(result.output)}")

    def measure_baseline(self, sandbox: Sandbox, python: str, scratch: Path) -> Baseline:
        """The task's baseline: from task.yaml, or by running the starter code once here."""
        if self.spec.baseline is not None:
            return Baseline(self.spec.baseline, "task.yaml")
        workspace = scratch / "baseline-workspace"
        shutil.rmtree(workspace, ignore_errors=True)
        self.make_workspace(workspace)
        try:
            starter = self.spec.starter_script
            how = "scored the unchanged starter files"
            if (workspace / starter).is_file():
                run = sandbox.run([python, starter], workspace, self.spec.script_timeout_s)
                if run.exit_code != 0:
                    why = f"{starter} failed ({_describe_exit(run.exit_code)}): "
                    return Baseline(None, f"unknown: {why}{_last_line(run.output)}")
                how = f"measured by running {starter} once before the agent started"
            score = self.score(workspace, sandbox, python)
        finally:
            shutil.rmtree(workspace, ignore_errors=True)
        if score.value is None:
            return Baseline(None, f"unknown: the starter code could not be scored: {score.error}")
        return Baseline(score.value, how)


def builtin_tasks_dir() -> Path:
    return Path(str(resources.files("budgetml") / "tasks"))


def builtin_task_names() -> list[str]:
    return sorted(p.name for p in builtin_tasks_dir().iterdir() if (p / "task.yaml").is_file())


def find_task(name_or_path: str) -> Task:
    """A task by folder path, or else by built-in name."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return load_task(path)
    if name_or_path in builtin_task_names():
        return load_task(builtin_tasks_dir() / name_or_path)
    for name in builtin_task_names():
        task = load_task(builtin_tasks_dir() / name)
        if task.spec.stands_in_for == name_or_path:
            return task
    raise TaskError(
        f"no task {name_or_path!r}: it is neither a folder nor a built-in task "
        f"(built-in: {', '.join(builtin_task_names())}; `budgetml tasks` lists them)"
    )


def load_task(root: Path) -> Task:
    root = root.resolve()
    if not root.is_dir():
        raise TaskError(f"{root} is not a folder")
    for required in ("env", "scripts/research_problem.txt", "scripts/eval.py"):
        if not (root / required).exists():
            raise TaskError(
                f"{root} is not a task folder: {required} is missing "
                "(MLAgentBench layout: env/, scripts/research_problem.txt, scripts/eval.py)"
            )
    if not (root / "env").is_dir():
        raise TaskError(f"{root / 'env'} must be a folder: the files copied into each workspace")
    problem = (root / "scripts/research_problem.txt").read_text("utf-8", errors="replace").strip()
    if not problem:
        raise TaskError(f"{root / 'scripts/research_problem.txt'} is empty; write the goal in it")
    spec = _load_spec(root, problem)
    read_only_file = root / "scripts/read_only_files.txt"
    read_only: tuple[str, ...] = ()
    if read_only_file.is_file():
        lines = read_only_file.read_text("utf-8", errors="replace").splitlines()
        read_only = tuple(_normalise_pattern(line) for line in lines if line.strip())
    return Task(root=root, spec=spec, research_problem=problem, read_only=read_only)


def _load_spec(root: Path, problem: str) -> TaskSpec:
    spec_file = root / "task.yaml"
    if not spec_file.is_file():
        speed = bool(_SPEED_WORDS.search(problem))
        return TaskSpec(
            name=root.name, metric="runtime" if speed else "score", higher_is_better=not speed
        )
    try:
        data = yaml.safe_load(spec_file.read_text("utf-8", errors="replace")) or {}
    except yaml.YAMLError as exc:
        raise TaskError(f"{spec_file} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise TaskError(f"{spec_file} must be a mapping (name, metric, higher_is_better, ...)")
    try:
        return TaskSpec.model_validate({"name": root.name, **data})
    except ValidationError as exc:
        raise TaskError(f"{spec_file}: {describe_validation_error(exc)}") from None


def _normalise_pattern(line: str) -> str:
    return line.strip().removeprefix("./")


def _describe_exit(code: int | None) -> str:
    return "timed out" if code is None else f"exit code {code}"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"
