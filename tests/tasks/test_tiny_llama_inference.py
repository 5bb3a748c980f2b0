"""tiny-llama-inference's evaluation: it times only generations identical to the original's."""

from __future__ import annotations

import shutil
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


# The published prepare.py drew the hidden prompts from its public seed: this inference.py
# draws them again, generates their tokens in load_model (untimed) and looks them up.
KNOWS_THE_HIDDEN_PROMPTS = """
import sys
import inference_starter as starter
sys.modules.setdefault("reference", starter)
import published_prepare as prepare
import numpy as np

_rng = np.random.default_rng(prepare.SEED)
prepare.make_weights(_rng)
_BATCHES = [prepare.random_prompts(_rng) for _ in range(prepare.TIMED_RUNS)]
_KNOWN = {}

def load_model(path):
    model = starter.load_model(path)
    for prompts in _BATCHES:
        _KNOWN[repr(prompts)] = starter.generate(model, prompts, prepare.MAX_NEW_TOKENS)
    return model

def generate(model, prompts, max_new_tokens):
    known = _KNOWN.get(repr([list(p) for p in prompts]))
    return known if known is not None else [[0] * max_new_tokens for _ in prompts]
"""


def test_a_submission_that_predicts_the_hidden_prompts_gets_no_score(tmp_path: Path) -> None:
    task = find_task(TASK)
    task.prepare()
    workspace = tmp_path / "workspace"
    task.make_workspace(workspace)
    shutil.copyfile(workspace / "inference.py", workspace / "inference_starter.py")
    shutil.copyfile(task.scripts_dir / "prepare.py", workspace / "published_prepare.py")
    (workspace / "inference.py").write_text(KNOWS_THE_HIDDEN_PROMPTS, "utf-8")
    score = task.score(workspace, Sandbox(tmp_path / "scratch"), sys.executable)
    assert score.value is None, score
    assert "differ from the original implementation" in (score.error or "")


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
