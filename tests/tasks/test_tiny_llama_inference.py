"""tiny-llama-inference's evaluation: it times only generations identical to the original's."""

from __future__ import annotations

import sys
from pathlib import Path

from budgetml.env.sandbox import Sandbox
from budgetml.env.task import Score, find_task

TASK = "tiny-llama-inference"


def _score_with(tmp_path: Path, replace: dict[str, str] | None = None) -> Score:
    """Score a fresh workspace whose inference.py has the given text substitutions."""
    task = find_task(TASK)
    task.prepare()
    workspace = tmp_path / "workspace"
    task.make_workspace(workspace)
    script = workspace / "inference.py"
    if replace is None:
        script.unlink()
    else:
        text = script.read_text("utf-8")
        for old, new in replace.items():
            assert old in text
            text = text.replace(old, new)
        script.write_text(text, "utf-8")
    return task.score(workspace, Sandbox(tmp_path / "scratch"), sys.executable)


def test_reference_py_is_a_pristine_copy_of_the_starter() -> None:
    task = find_task(TASK)
    starter = (task.env_dir / "inference.py").read_bytes()
    assert (task.scripts_dir / "reference.py").read_bytes() == starter


def test_a_generation_that_differs_from_the_original_is_refused(tmp_path: Path) -> None:
    # Picking the second most likely token instead of the most likely one.
    second_best = {"int(np.argmax(logits[-1]))": "int(np.argsort(logits[-1])[-2])"}
    score = _score_with(tmp_path, second_best)
    assert score.value is None
    assert "differ from the original implementation" in (score.error or "")


def test_a_workspace_without_inference_py_is_refused(tmp_path: Path) -> None:
    score = _score_with(tmp_path, None)
    assert score.value is None
    assert "inference.py is missing" in (score.error or "")


def test_a_submission_without_generate_is_refused(tmp_path: Path) -> None:
    score = _score_with(tmp_path, {"def generate(": "def generate_tokens("})
    assert score.value is None
    assert "defines no function generate" in (score.error or "")
