"""Any folder as a task: a goal in words and a command that prints the score.

`budgetml run PATH --goal ... --eval ...` and `budgetml init-task` both write an ordinary
MLAgentBench-layout task folder whose `eval.py` runs the user's command, so everything else
(baseline, sandbox, scoring, replay) treats a user's project like a built-in task.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from budgetml.data.paths import data_root
from budgetml.env.task import Baseline, Task, load_task
from budgetml.errors import TaskError

PROJECT_CATEGORY = "user project"
SKIPPED = (".git", ".hg", ".svn", ".venv", "venv", "__pycache__", "node_modules", ".mypy_cache")
"""Never copied into a workspace: version control, environments and caches."""
MAX_PROJECT_BYTES = 2 * 1024**3
_LOWER_IS_BETTER = re.compile(
    r"(loss|error|rmse|mse|mae|smape|perplexity|bits|time|seconds|latency|runtime)", re.I
)
_EVAL_TEMPLATE = '''"""Scores a workspace with the project's own command (written by budgetml).

The command runs on a scratch copy of the workspace, so it may write files freely; the score is
the last number it prints on standard output. `python` and `python3` in it (and in what it runs)
are the interpreter that runs this file, the one BudgetML runs scripts with: first on PATH.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EVAL_COMMAND = {command}
TIMEOUT_S = {timeout}
NUMBER = re.compile(r"[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?|[-+]?(?:inf|nan)", re.I)


def interpreter_first(scratch):
    """An environment whose PATH starts with python and python3 that run this interpreter."""
    folder = Path(scratch) / "bin"
    folder.mkdir()
    for name in ("python", "python3"):
        shim = folder / name
        shim.write_text(f'#!/bin/sh\\nexec {{shlex.quote(sys.executable)}} "$@"\\n')
        shim.chmod(0o755)
    return {{**os.environ, "PATH": os.pathsep.join([str(folder), os.environ.get("PATH", "")])}}


def last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def get_score(submission_folder):
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        shutil.copytree(submission_folder, project, symlinks=True)
        try:
            result = subprocess.run(
                EVAL_COMMAND, shell=True, cwd=project, capture_output=True, text=True,
                errors="replace", timeout=TIMEOUT_S, env=interpreter_first(scratch),
            )
        except subprocess.TimeoutExpired:
            raise ValueError(f"the evaluation command timed out after {{TIMEOUT_S}} s") from None
    if result.returncode != 0:
        printed = last_line(result.stderr) or last_line(result.stdout)
        said = f": {{printed}}" if printed else " and printed nothing"
        raise ValueError(f"the evaluation command failed (exit code {{result.returncode}}){{said}}")
    numbers = NUMBER.findall(result.stdout)
    if not numbers:
        printed = last_line(result.stdout) or last_line(result.stderr)
        said = f" (its last line: {{printed}})" if printed else " (it printed nothing)"
        raise ValueError(f"the evaluation command printed no number on standard output{{said}}")
    return float(numbers[-1])
'''


@dataclass(frozen=True)
class Project:
    """What a user says about their folder: the goal, how to score it, which way is better."""

    path: Path
    goal: str
    eval_command: str
    metric: str = "score"
    higher_is_better: bool | None = None
    starter_script: str | None = None
    eval_timeout_s: float = 600

    @property
    def direction_is_higher(self) -> bool:
        """Explicit, else guessed from the metric's name (loss, rmse, time, ... are lower)."""
        if self.higher_is_better is not None:
            return self.higher_is_better
        return not _LOWER_IS_BETTER.search(self.metric)


def write_task_folder(project: Project, destination: Path) -> Path:
    """Write `destination` as a task: env/ = a copy of the project, scripts/ = goal and eval."""
    source = project.path.expanduser().resolve()
    _check(project, source)
    if destination.resolve().is_relative_to(source):
        raise TaskError(f"the task folder {destination} must not be inside the project {source}")
    staging = destination.with_name(destination.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging / "env", symlinks=True, ignore=shutil.ignore_patterns(*SKIPPED))
    scripts = staging / "scripts"
    scripts.mkdir()
    (scripts / "research_problem.txt").write_text(project.goal.strip() + "\n", encoding="utf-8")
    (scripts / "eval.py").write_text(
        _EVAL_TEMPLATE.format(
            command=json.dumps(project.eval_command), timeout=repr(project.eval_timeout_s)
        ),
        encoding="utf-8",
    )
    spec = {
        "name": _task_name(source),
        "category": PROJECT_CATEGORY,
        "metric": project.metric,
        "higher_is_better": project.direction_is_higher,
        "baseline": None,
        "eval_timeout_s": project.eval_timeout_s,
        **({"starter_script": project.starter_script} if project.starter_script else {}),
    }
    header = f"# Written by `budgetml` for {source}; scored by: {project.eval_command}\n"
    (staging / "task.yaml").write_text(header + yaml.safe_dump(spec, sort_keys=False), "utf-8")
    shutil.rmtree(destination, ignore_errors=True)
    staging.rename(destination)
    return destination


def project_task(project: Project) -> Task:
    """A fresh task folder for `project` under the data root (outside every workspace)."""
    key = json.dumps(
        [
            str(project.path.expanduser().resolve()),
            project.goal,
            project.eval_command,
            project.metric,
            project.direction_is_higher,
            project.starter_script,
        ],
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    folder = data_root() / "projects" / f"{_task_name(project.path)}-{digest}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    return load_task(write_task_folder(project, folder))


class UnscorableProject(TaskError):
    """The evaluation fails on the unchanged project: no run can be judged."""


def stop_if_unscorable(task: Task, baseline: Baseline, record: Callable[[str], None]) -> None:
    """A user's project whose evaluation fails before any change stops the run here, before
    the first model call: every step would be wasted on a run that cannot be scored."""
    if task.spec.category != PROJECT_CATEGORY or baseline.value is not None:
        return
    why = baseline.source.removeprefix("unknown: ")
    why = why.removeprefix("the starter code could not be scored: ").removeprefix("ValueError: ")
    message = (
        f"the evaluation fails on the unchanged project, so the run stops before the first "
        f"model call: {why}"
    )
    record(message)
    raise UnscorableProject(message)


def _check(project: Project, source: Path) -> None:
    if not source.is_dir():
        raise TaskError(f"{project.path} is not a folder; give the project folder to improve")
    if not project.goal.strip():
        raise TaskError("--goal is empty: say in words what the agent should improve")
    if not project.eval_command.strip():
        raise TaskError("--eval is empty: give a shell command that prints the score")
    if project.starter_script and not (source / project.starter_script).is_file():
        raise TaskError(f"the starter script {project.starter_script} is not in {source}")
    size = sum(
        p.stat().st_size
        for p in source.rglob("*")
        if p.is_file()
        and not p.is_symlink()
        and not set(p.relative_to(source).parts) & set(SKIPPED)
    )
    if size > MAX_PROJECT_BYTES:
        raise TaskError(
            f"{source} holds {size / 1024**3:.1f} GB; each run copies it, so keep large data "
            "outside the folder and read it by absolute path, or slim the folder down"
        )


def _task_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.expanduser().resolve().name).strip("-")
    return name or "project"
