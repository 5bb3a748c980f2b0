"""A task: an MLAgentBench-layout folder, its goal, its baseline and how to score a workspace."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from budgetml.config import describe_validation_error
from budgetml.data.paths import data_root
from budgetml.env.actions import looks_binary
from budgetml.env.direction import guess_direction
from budgetml.env.sandbox import Sandbox
from budgetml.env.scoring import Score, clean_copy, score_workspace
from budgetml.env.timing import Timing, measure_in_turn, without_waiting
from budgetml.errors import TaskError

__all__ = ["Baseline", "Score", "Task", "TaskSpec", "find_task", "load_task"]

MAX_PROBLEM_BYTES = 100_000
"""A research problem is a goal of a few paragraphs (MLAgentBench's are 1-3 kB); one this long
would cost about 25,000 tokens in every prompt of the run."""


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
    measured_by: Literal["eval.py", "starter"] | None = None
    """A timed task's number comes from eval.py timing the code itself, or from the time the
    starter script writes (MLAgentBench's runtime tasks); None: the metric is not a time."""
    measurements: int = Field(default=5, ge=1, le=20)
    """A timed task is measured this many times, baseline and final alike; the best counts.
    Five, not three: on a busy machine a lucky moment makes one run far faster, and with three
    measurements each the unchanged starter too often came out faster than itself throughout
    (benchmarks/noop_under_load.py)."""
    score_during_run: bool = True
    """False for a task whose scoring is slow: only the last step is scored, not each step."""


@dataclass(frozen=True)
class Baseline:
    value: float | None
    source: str
    noise: float = 0.0
    """How much a timed task's measurements varied where the final was measured beside this
    baseline (`Timing.spread`); an improvement no larger does not count (summary.is_success)."""


@dataclass(frozen=True)
class Task:
    root: Path
    spec: TaskSpec
    research_problem: str
    read_only: tuple[str, ...]
    direction_reason: str = "task.yaml says so"
    direction_guessed: bool = False

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
        if higher_is_better == self.spec.higher_is_better:
            return self
        return replace(
            self,
            spec=self.spec.model_copy(update={"higher_is_better": higher_is_better}),
            direction_reason="chosen for this run (--higher-is-better/--lower-is-better)",
            direction_guessed=False,
        )

    def describe_direction(self) -> str:
        way = "higher" if self.spec.higher_is_better else "lower"
        guess = "; a guess: set --higher-is-better or --lower-is-better, or write task.yaml"
        return f"{way} is better ({self.direction_reason}{guess if self.direction_guessed else ''})"

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
        """Run the task's `scripts/prepare.py` unless what it made last time is all there.

        It runs as `python prepare.py DATA_DIR` in `scripts/`, outside the sandbox: it is the
        task author's code and may need the package registries. Ours write `DATA_DIR/env`
        (copied into each workspace) and `DATA_DIR/private` (test labels, seen only by
        eval.py); MLAgentBench's ignore the argument and fill `env/` themselves. The stamp in
        DATA_DIR holds the script's hash and every file it made, in DATA_DIR and in the task
        folder: a changed script, or a folder made again (a fresh clone, `git clean`), prepares
        again.
        """
        prepare = self.scripts_dir / "prepare.py"
        if not prepare.is_file():
            return
        version = hashlib.sha256(prepare.read_bytes()).hexdigest()
        if self._prepared(version):
            return
        on_note(f"preparing the data of {self.name}")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        before = _files(self.root)
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
        made = sorted(_files(self.root) - before)
        self._write_stamp(version, made)

    def _prepared(self, version: str) -> bool:
        stamp = self.data_dir / ".prepared"
        try:
            text = stamp.read_text("utf-8")
        except OSError:
            return False
        try:
            record = json.loads(text)
        except ValueError:  # a stamp of before 0.x: the hash alone; keep it if data is there
            if text.strip() != version or not _files(self.data_dir) - {".prepared"}:
                return False
            self._write_stamp(version, [])
            return True
        if not isinstance(record, dict) or record.get("version") != version:
            return False
        folders = ((self.root, record.get("made", [])), (self.data_dir, record.get("data", [])))
        return all((folder / name).is_file() for folder, names in folders for name in names)

    def _write_stamp(self, version: str, made: list[str]) -> None:
        data = sorted(_files(self.data_dir) - {".prepared"})
        record = {"version": version, "made": made, "data": data}
        (self.data_dir / ".prepared").write_text(json.dumps(record) + "\n", encoding="utf-8")

    def score(self, workspace: Path, sandbox: Sandbox, python: str) -> Score:
        """Score `workspace` with `scripts/eval.py` (see `env/scoring.py`); a timed task
        measures it exactly as its baseline was measured (`measure`)."""
        if self.spec.measured_by is not None:
            return self.measure(workspace, sandbox, python)
        return self._score_once(workspace, sandbox, python)

    @property
    def measured_again_at_end(self) -> bool:
        """A timed task whose baseline BudgetML measures: at the end of a run the unchanged
        starter is measured again, in turn with the final workspace (scorekeeper.py)."""
        return self.spec.measured_by is not None and self.spec.baseline is None

    def describe_measurement(self) -> str:
        """How a timed task measures a workspace, in a few words."""
        way = "highest" if self.spec.higher_is_better else "lowest"
        times, starter = self.spec.measurements, self.spec.starter_script
        if self.spec.measured_by == "starter":
            return f"{starter} run to warm up, then run and scored {times} times (the {way} counts)"
        return f"scored {times} times by eval.py, which times the code (the {way} counts)"

    def measure(self, workspace: Path, sandbox: Sandbox, python: str) -> Score:
        """A timed task's number for `workspace`: the best of `measurements` scorings (see
        `measure_in_turn`)."""
        (timing,) = self.measure_in_turn([workspace], sandbox, python)
        return timing.score(self.spec.higher_is_better)

    def measure_in_turn(
        self, workspaces: Sequence[Path], sandbox: Sandbox, python: str
    ) -> list[Timing]:
        """A timed task's measurements of each workspace, taken in turn so each sees the same
        load: `measurements` scorings of a scratch copy, each after a run of the starter
        script when the script writes the time (then after one warm-up run, too)."""
        copies = [sandbox.scratch / f"measured-workspace-{i}" for i in range(len(workspaces))]
        for workspace, copy in zip(workspaces, copies, strict=True):
            shutil.rmtree(copy, ignore_errors=True)
            clean_copy(workspace, copy)
        runs = self.spec.measured_by == "starter"

        def warm_up(copy: Path) -> str | None:
            failed = self._run_starter(copy, sandbox, python)
            return failed if isinstance(failed, str) else None

        def once(copy: Path) -> float | str:
            busy = self._run_starter(copy, sandbox, python) if runs else None
            if isinstance(busy, str):
                return busy
            score = self._score_once(copy, sandbox, python)
            if score.value is None:
                return score.error or "the evaluation gave no score"
            return without_waiting(score.value, busy, self.spec.higher_is_better)

        try:
            return measure_in_turn(copies, self.spec.measurements, once, warm_up if runs else None)
        finally:
            for copy in copies:
                shutil.rmtree(copy, ignore_errors=True)

    def _run_starter(self, workspace: Path, sandbox: Sandbox, python: str) -> str | float | None:
        """Run the starter script in `workspace`: why it failed, or the share of its time it
        ran rather than waited for a CPU (None where Linux won't say)."""
        starter = self.spec.starter_script
        if not (workspace / starter).is_file():
            return f"{starter} is missing, and this timed task is measured by running it"
        run = sandbox.run([python, starter], workspace, self.spec.script_timeout_s, metered=True)
        if run.exit_code == 0:
            return run.busy_share
        return f"{starter} failed ({_describe_exit(run.exit_code)}): {_last_line(run.output)}"

    def _score_once(self, workspace: Path, sandbox: Sandbox, python: str) -> Score:
        private = self.data_dir / "private"
        return score_workspace(
            workspace,
            self.scripts_dir,
            private if private.is_dir() else None,
            sandbox,
            python,
            self.spec.eval_timeout_s,
        )

    def measure_baseline(self, sandbox: Sandbox, python: str, scratch: Path) -> Baseline:
        """The task's baseline: from task.yaml, or measured on the unchanged starter files."""
        if self.spec.baseline is not None:
            return Baseline(self.spec.baseline, "task.yaml")
        workspace = scratch / "baseline-workspace"
        shutil.rmtree(workspace, ignore_errors=True)
        self.make_workspace(workspace)
        try:
            if self.spec.measured_by is not None:
                score = self.measure(workspace, sandbox, python)
                how = (
                    f"measured before the agent started: {self.describe_measurement()}; "
                    "measured again at the end of the run, in turn with the final workspace"
                )
            else:
                starter = self.spec.starter_script
                how = "scored the unchanged starter files"
                if (workspace / starter).is_file():
                    failed = self._run_starter(workspace, sandbox, python)
                    if isinstance(failed, str):
                        return Baseline(None, f"unknown: {failed}")
                    how = f"measured by running {starter} once before the agent started"
                score = self._score_once(workspace, sandbox, python)
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
    problem = _read_problem(root / "scripts/research_problem.txt")
    spec, reason, guessed = _load_spec(root, problem)
    read_only_file = root / "scripts/read_only_files.txt"
    read_only: tuple[str, ...] = ()
    if read_only_file.is_file():
        lines = read_only_file.read_text("utf-8", errors="replace").splitlines()
        read_only = tuple(_normalise_pattern(line) for line in lines if line.strip())
    return Task(root, spec, problem, read_only, reason, guessed)


def _read_problem(path: Path) -> str:
    """The research problem, refused when it is not a short text (it goes in every prompt)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_PROBLEM_BYTES + 1)
            size = handle.seek(0, 2)
    except OSError as exc:
        raise TaskError(f"cannot read {path}: {exc.strerror}") from None
    if looks_binary(raw[:8192]):
        raise TaskError(f"{path} is not text ({size:,} bytes of binary data); write the goal in it")
    if size > MAX_PROBLEM_BYTES:
        raise TaskError(
            f"{path} is {size:,} bytes; a research problem must be at most "
            f"{MAX_PROBLEM_BYTES:,} bytes (it is sent in every prompt): keep the goal there and "
            "put long descriptions in env/ for the agent to read"
        )
    problem = raw.decode("utf-8", errors="replace").strip()
    if not problem:
        raise TaskError(f"{path} is empty; write the goal in it")
    return problem


def _load_spec(root: Path, problem: str) -> tuple[TaskSpec, str, bool]:
    """The spec, and why its metric runs in its direction (and whether that is a guess)."""
    spec_file = root / "task.yaml"
    if not spec_file.is_file():
        direction = guess_direction(root.name, problem)
        spec = TaskSpec(
            name=root.name,
            metric=direction.metric,
            higher_is_better=direction.higher_is_better,
            measured_by="starter" if direction.metric == "runtime" else None,
        )
        return spec, direction.reason, direction.guessed
    try:
        data = yaml.safe_load(spec_file.read_text("utf-8", errors="replace")) or {}
    except yaml.YAMLError as exc:
        raise TaskError(f"{spec_file} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise TaskError(f"{spec_file} must be a mapping (name, metric, higher_is_better, ...)")
    try:
        spec = TaskSpec.model_validate({"name": root.name, **data})
    except ValidationError as exc:
        raise TaskError(f"{spec_file}: {describe_validation_error(exc)}") from None
    way = "true" if spec.higher_is_better else "false"
    return spec, f"task.yaml says higher_is_better: {way}", False


def _files(folder: Path) -> set[str]:
    """Every file under `folder`, as paths relative to it."""
    if not folder.is_dir():
        return set()
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _normalise_pattern(line: str) -> str:
    return line.strip().removeprefix("./")


def _describe_exit(code: int | None) -> str:
    return "timed out" if code is None else f"exit code {code}"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"
