"""Scoring a hand-made submission with a task's real eval.py, as a run would."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from budgetml.env.sandbox import Sandbox
from budgetml.env.task import Score, find_task


def score_submission(task_name: str, submission: pd.DataFrame | None, tmp_path: Path) -> Score:
    """`submission` written as the workspace's submission.csv (None: no file), then scored."""
    workspace = tmp_path / "workspace"
    workspace.mkdir(parents=True)
    if submission is not None:
        submission.to_csv(workspace / "submission.csv", index=False)
    task = find_task(task_name)
    return task.score(workspace, Sandbox(tmp_path / "scratch"), sys.executable)
