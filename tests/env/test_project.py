"""A user's own folder becomes a task: scored by their command, copied, never touched."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from budgetml.config import ModelEntry, RunConfig
from budgetml.env.project import Project, project_task, write_task_folder
from budgetml.env.sandbox import Sandbox
from budgetml.errors import TaskError
from budgetml.run import start_run
from tests.scripted_settings import EVERY_ACTION

pytestmark = pytest.mark.usefixtures("private_data_root")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose 'model' is one constant; its score script prints an error to lower."""
    folder = tmp_path / "my-project"
    folder.mkdir()
    (folder / "model.py").write_text("ERROR = 8.0\n")
    (folder / "score.py").write_text(
        "from model import ERROR\nprint('evaluating...')\nprint(f'val rmse: {ERROR}')\n"
    )
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return folder


def describe(folder: Path, **changes: object) -> Project:
    fields: dict[str, object] = {
        "path": folder,
        "goal": "Lower the validation RMSE printed by score.py by changing model.py.",
        "eval_command": f"{sys.executable} score.py",
        "metric": "rmse",
    }
    fields.update(changes)
    return Project(**fields)  # type: ignore[arg-type]


def test_the_score_is_the_last_number_the_command_prints(project: Path, tmp_path: Path) -> None:
    task = project_task(describe(project))
    score = task.score(task.env_dir, Sandbox(tmp_path / "scratch"), sys.executable)
    assert score.value == 8.0
    assert task.spec.higher_is_better is False
    assert not (task.env_dir / ".git").exists()


def test_a_run_on_a_project_improves_a_copy_and_leaves_the_folder_alone(
    project: Path, tmp_path: Path
) -> None:
    task = project_task(describe(project))
    edit = {"file_name": "model.py", "content": "ERROR = 5.0\n"}
    replies = [
        f"Thought: t\nAction: Write File\nAction Input: {json.dumps(edit)}",
        'Thought: t\nAction: Final Answer\nAction Input: {"final_answer": "lowered it"}',
    ]
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(replies))
    config = RunConfig(planner=[ModelEntry(model=f"scripted:{script}", retries=1)], **EVERY_ACTION)
    summary = start_run(task, config, config_label="scripted", run_dir=tmp_path / "run")
    assert (summary.baseline, summary.score, summary.success) == (8.0, 5.0, True)
    assert (project / "model.py").read_text() == "ERROR = 8.0\n"


def test_the_direction_follows_the_flag_else_the_metric_name(project: Path) -> None:
    assert describe(project, metric="accuracy").direction_is_higher is True
    assert describe(project, metric="val_loss").direction_is_higher is False
    assert describe(project, metric="rmse", higher_is_better=True).direction_is_higher is True


def test_a_failing_or_silent_command_gives_a_score_error(project: Path, tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "scratch")
    failing = project_task(describe(project, eval_command=f"{sys.executable} missing.py"))
    score = failing.score(failing.env_dir, sandbox, sys.executable)
    assert score.value is None
    assert "the evaluation command failed (exit code 2)" in (score.error or "")
    silent = project_task(describe(project, eval_command="echo done"))
    score = silent.score(silent.env_dir, sandbox, sys.executable)
    assert "printed no number" in (score.error or "")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"goal": "  "}, "--goal is empty"),
        ({"eval_command": ""}, "--eval is empty"),
        ({"starter_script": "train.py"}, "starter script train.py is not in"),
    ],
)
def test_a_bad_description_is_refused_with_what_to_fix(
    project: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(TaskError, match=message):
        project_task(describe(project, **changes))


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="is not a folder"):
        project_task(describe(tmp_path / "nowhere"))


def test_the_task_folder_may_not_live_inside_the_project(project: Path) -> None:
    with pytest.raises(TaskError, match="must not be inside the project"):
        write_task_folder(describe(project), project / "task")
