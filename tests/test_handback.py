"""A run that improves the model and then ruins it: the summary keeps both, and the best
workspace comes back as a diff or into a folder. Real `budgetml` processes, a scripted planner
(fixed replies, not an LLM) and a task folder written here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from budgetml.trace import StepScored, of_kind, read_events
from tests.scripted_settings import EVERY_ACTION_YAML

FIXTURES = Path(__file__).parent / "fixtures"
IMPROVE_THEN_RUIN = FIXTURES / "trajectories" / "guess-labels-improve-then-ruin.json"
"""Copy ideas/better.py over model.py, run train.py, copy ideas/ruined.py over it, run, stop."""
BETTER = (FIXTURES / "tasks" / "guess-labels" / "env" / "ideas" / "better.py").read_text()


def budgetml(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "budgetml", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},  # each step's console line on one line
    )


@pytest.fixture
def ruined_run(tmp_path: Path) -> Path:
    """The finished run directory of a scripted run that improves the model, then ruins it."""
    task = tmp_path / "guess-labels"  # a task no other test runs: guess ten labels
    shutil.copytree(FIXTURES / "tasks" / "guess-labels", task)
    config = tmp_path / "scripted.yaml"
    config.write_text(
        f"planner:\n  - model: 'scripted:{IMPROVE_THEN_RUIN}'\n    retries: 1\n{EVERY_ACTION_YAML}"
    )
    run_dir = tmp_path / "run"
    result = budgetml(
        "run", str(task), "--config", str(config), "--out", str(run_dir), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "accuracy 0.9 (best so far)" in result.stdout  # on step 2's console line
    return run_dir


def test_the_summary_keeps_the_ruined_last_score_and_the_earlier_best(ruined_run: Path) -> None:
    summary = json.loads((ruined_run / "summary.json").read_text())
    assert summary["baseline"] == pytest.approx(0.6)
    assert (summary["score"], summary["success"]) == (pytest.approx(0.4), False)
    assert summary["improvement"] == pytest.approx(-1 / 3)
    assert (summary["best_score"], summary["best_step"]) == (pytest.approx(0.9), 2)
    assert summary["best_improvement"] == pytest.approx(0.5)
    assert summary["best_success"] is True
    assert (ruined_run / "best" / "step-2" / "model.py").read_text() == BETTER
    assert sorted(p.name for p in (ruined_run / "best").iterdir()) == ["step-2"]


def test_scores_are_recorded_after_the_steps_that_change_what_the_evaluation_reads(
    ruined_run: Path,
) -> None:
    scores = of_kind(read_events(ruined_run / "trace.jsonl"), StepScored)
    # step 1 changed model.py (no submission yet); 2 and 4 ran train.py; 3 changed model.py;
    # step 5 (Final Answer) is the last step, scored once the run ends.
    assert [(e.step, e.value, e.best) for e in scores] == [
        (1, None, False),
        (2, pytest.approx(0.9), True),
        (3, pytest.approx(0.9), False),
        (4, pytest.approx(0.4), False),
        (5, pytest.approx(0.4), False),
    ]
    assert scores[-1].final and not scores[-2].final


def test_diff_best_shows_the_change_that_made_the_best(ruined_run: Path, tmp_path: Path) -> None:
    best = budgetml("diff", str(ruined_run), "--best", cwd=tmp_path)
    assert best.returncode == 0, best.stderr
    assert "the best workspace (step 2, accuracy 0.9)" in best.stderr
    assert "-    return 1  # six of ten" in best.stdout
    assert "+    return [1, 0, 1, 1, 0, 1, 0, 0, 1, 0][i]  # nine of ten" in best.stdout
    assert "submission.csv" not in best.stdout  # an output of train.py, not a change of the agent
    final = budgetml("diff", str(ruined_run), cwd=tmp_path)
    assert "+    return 0  # four of ten" in final.stdout
    # the patch is one git understands: applied to a copy of the start, it gives the best
    copy = tmp_path / "copy"
    shutil.copytree(ruined_run / "start", copy)
    (tmp_path / "best.patch").write_text(best.stdout)
    applied = subprocess.run(
        ["git", "apply", str(tmp_path / "best.patch")], cwd=copy, capture_output=True, text=True
    )
    assert applied.returncode == 0, applied.stderr
    assert (copy / "model.py").read_text() == BETTER


def test_apply_best_copies_the_changed_files_and_touches_nothing_else(
    ruined_run: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "mine"
    shutil.copytree(ruined_run / "start", folder)
    (folder / "notes.txt").write_text("my own file\n")
    result = budgetml("apply", str(ruined_run), "--best", "--to", str(folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote 1 file(s)" in result.stderr
    assert (folder / "model.py").read_text() == BETTER
    assert (folder / "notes.txt").read_text() == "my own file\n"
    assert not (folder / "submission.csv").exists()
    again = budgetml("apply", str(ruined_run), "--best", "--to", str(folder), cwd=tmp_path)
    assert again.returncode == 0 and "nothing written" in again.stderr


def test_apply_refuses_a_folder_whose_file_changed_since_the_run_started(
    ruined_run: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "mine"
    shutil.copytree(ruined_run / "start", folder)
    (folder / "model.py").write_text("def predict(i):\n    return i % 2  # edited meanwhile\n")
    result = budgetml("apply", str(ruined_run), "--best", "--to", str(folder), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {folder / 'model.py'} changed since the run started; nothing written "
        f"(see `budgetml diff {ruined_run}`)"
    )
    assert "edited meanwhile" in (folder / "model.py").read_text()
