"""`budgetml run FOLDER --goal --eval` and `budgetml init-task`, through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from budgetml.cli import app
from budgetml.env.task import load_task
from budgetml.trace import read_events
from tests.scripted_settings import EVERY_ACTION_YAML

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("private_data_root")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "model.py").write_text("ACCURACY = 0.5\n")
    (folder / "check.py").write_text("from model import ACCURACY\nprint(ACCURACY)\n")
    return folder


def test_run_improves_any_folder_scored_by_its_own_command(project: Path, tmp_path: Path) -> None:
    edit = {"file_name": "model.py", "content": "ACCURACY = 0.9\n"}
    replies = [
        f"Thought: t\nAction: Write File\nAction Input: {json.dumps(edit)}",
        'Thought: t\nAction: Final Answer\nAction Input: {"final_answer": "done"}',
    ]
    (tmp_path / "replies.json").write_text(json.dumps(replies))
    config = tmp_path / "scripted.yaml"
    config.write_text(
        f"planner:\n  - model: 'scripted:{tmp_path / 'replies.json'}'\n{EVERY_ACTION_YAML}"
    )
    result = runner.invoke(
        app,
        [
            "run", str(project), "--goal", "Raise the accuracy check.py prints.",
            "--eval", f"{sys.executable} check.py", "--metric", "accuracy",
            "--config", str(config), "--out", str(tmp_path / "run"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert (summary["baseline"], summary["score"], summary["success"]) == (0.5, 0.9, True)


def test_run_with_a_goal_but_no_eval_says_what_is_missing(project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "budgetml", "run", str(project), "--goal", "better"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: a project folder needs both --goal TEXT and --eval COMMAND"
    )


def test_init_task_asks_for_what_is_missing_and_checks_the_command(
    project: Path, tmp_path: Path
) -> None:
    answers = f"Raise the accuracy.\n{sys.executable} check.py\naccuracy\n"
    result = runner.invoke(
        app, ["init-task", str(project), "--out", str(tmp_path / "task")], input=answers
    )
    assert result.exit_code == 0, result.output
    assert "the unchanged project scores accuracy = 0.5" in result.output
    task = load_task(tmp_path / "task")
    assert task.spec.higher_is_better is True
    assert task.research_problem == "Raise the accuracy."
    assert (task.env_dir / "model.py").is_file()


def test_init_task_reports_a_command_that_prints_no_score(project: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["init-task", str(project), "--out", str(tmp_path / "t"), "--goal", "g", "--eval",
         "true", "--metric", "loss"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "printed no number" in result.output


@pytest.fixture
def own_project(tmp_path: Path) -> Path:
    """The README's flow as a new user has it: model.py prints its accuracy, evaluate.py runs
    it with sys.executable and prints the number; model.py needs a package of BudgetML's
    environment (typer), which another python on PATH would not have."""
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "model.py").write_text("import typer\n\nprint('accuracy 0.646')\n")
    (folder / "evaluate.py").write_text(
        "import subprocess, sys\n"
        "out = subprocess.run([sys.executable, 'model.py'], capture_output=True, text=True,"
        " check=True).stdout\n"
        "print(out.split()[-1])\n"
    )
    return folder


def run_project(
    folder: Path, tmp_path: Path, eval_command: str, path: str
) -> subprocess.CompletedProcess[str]:
    """`budgetml run FOLDER --goal --eval "python evaluate.py" --metric accuracy` with a
    planner that answers Final Answer at once."""
    replies = ['Thought: t\nAction: Final Answer\nAction Input: {"final_answer": "done"}']
    (tmp_path / "replies.json").write_text(json.dumps(replies))
    config = tmp_path / "scripted.yaml"
    config.write_text(
        f"planner:\n  - model: 'scripted:{tmp_path / 'replies.json'}'\n{EVERY_ACTION_YAML}"
    )
    return subprocess.run(
        [sys.executable, "-m", "budgetml", "run", str(folder), "--goal", "Raise the accuracy.",
         "--eval", eval_command, "--metric", "accuracy", "--config", str(config),
         "--out", str(tmp_path / "run")],
        capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "PATH": path, "COLUMNS": "200"},
    )  # fmt: skip


def test_python_in_the_eval_command_is_the_interpreter_budgetml_runs_scripts_with(
    own_project: Path, tmp_path: Path
) -> None:
    shims = tmp_path / "shims"  # a pyenv-like shim first on PATH that cannot work
    shims.mkdir()
    for name in ("python", "python3"):
        (shims / name).write_text("#!/bin/sh\nexit 1\n")
        (shims / name).chmod(0o755)
    result = run_project(
        own_project, tmp_path, "python evaluate.py", f"{shims}:{os.environ['PATH']}"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert (summary["baseline"], summary["score"]) == (0.646, 0.646)


def test_an_evaluation_that_fails_on_the_unchanged_project_stops_before_any_model_call(
    own_project: Path, tmp_path: Path
) -> None:
    (own_project / "model.py").write_text("print('accuracy', 1 / 0)\n")
    result = run_project(own_project, tmp_path, "python evaluate.py", os.environ["PATH"])
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(
        "error: the evaluation fails on the unchanged project, so the run stops before the "
        "first model call: the evaluation command failed (exit code 1): "
    )
    assert "CalledProcessError" in result.stderr or "ZeroDivisionError" in result.stderr
    events = [e.kind for e in read_events(tmp_path / "run" / "trace.jsonl")]
    assert "llm_call" not in events and events[-1] == "error"
