"""Every built-in task: complete, reproducible, beatable, and with its labels out of reach."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from budgetml.env.task import builtin_task_names, find_task
from tests.tasks.trajectory import SOLUTIONS, no_op_replies, reference_replies, run_replies

TASKS = builtin_task_names()
BASELINE_NOISE = 0.02
"""Seeded starters reproduce their baseline; this absorbs BLAS-order float differences."""


def test_there_is_one_task_for_each_of_the_eleven_mlagentbench_tasks() -> None:
    stand_ins = {find_task(name).spec.stands_in_for for name in TASKS}
    assert stand_ins == {
        "cifar10",
        "imdb",
        "house-price",
        "spaceship-titanic",
        "parkinsons-disease",
        "feedback",
        "ogbn-arxiv",
        "babylm",
        "CLRS",
        "llama-inference",
        "vectorization",
    }


@pytest.mark.parametrize("name", TASKS)
def test_the_task_folder_is_complete(name: str) -> None:
    task = find_task(name)
    assert task.spec.category != "unknown"
    assert task.spec.metric != "score"
    assert (task.root / "LICENSE-NOTE.md").is_file()
    assert (task.env_dir / task.spec.starter_script).is_file()
    assert len(task.research_problem) > 100
    assert (SOLUTIONS / name).is_dir(), "every task needs a reference solution for its checks"
    assert find_task(task.spec.stands_in_for or "") == task


@pytest.mark.parametrize("name", TASKS)
def test_the_unchanged_starter_reproduces_the_baseline_and_does_not_succeed(
    name: str, tmp_path: Path
) -> None:
    task = find_task(name)
    summary = run_replies(task, no_op_replies(task), tmp_path)
    assert summary.score is not None, summary.score_error
    assert summary.baseline is not None, summary.baseline_source
    if task.spec.baseline is not None:
        assert summary.score == pytest.approx(task.spec.baseline, rel=BASELINE_NOISE)
    assert not summary.success


@pytest.mark.parametrize("name", TASKS)
def test_the_reference_solution_clears_the_success_bar(name: str, tmp_path: Path) -> None:
    task = find_task(name)
    summary = run_replies(task, reference_replies(task), tmp_path)
    assert summary.score is not None, summary.score_error
    assert summary.success, f"{summary.score} vs baseline {summary.baseline}"


@pytest.mark.parametrize("name", TASKS)
def test_no_workspace_file_holds_the_test_labels(name: str, tmp_path: Path) -> None:
    task = find_task(name)
    task.prepare()
    workspace = tmp_path / "workspace"
    task.make_workspace(workspace)
    private = task.data_dir / "private"
    secret = {_digest(p) for p in private.rglob("*") if p.is_file()} if private.is_dir() else set()
    secret |= {_digest(p) for p in task.scripts_dir.rglob("*") if _is_label_file(p)}
    exposed = [p for p in workspace.rglob("*") if p.is_file() and _digest(p) in secret]
    assert not exposed


def _is_label_file(path: Path) -> bool:
    return path.is_file() and path.suffix in {".csv", ".npy", ".npz", ".json", ".txt"}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
