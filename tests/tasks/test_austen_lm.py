"""austen-lm's evaluation: honest models are scored, models that claim what they cannot know
are refused."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from budgetml.env.sandbox import Sandbox
from budgetml.env.task import Score, Task, find_task

# Each cheat replaces lm.py; the starter's lm.py stays importable as lm_starter.
CERTAIN = """
import numpy as np
from lm_starter import load, next_char_distribution

def next_char_log2_probs(model, text):
    return np.zeros(len(text))
"""

PEEKS_AT_THE_ANSWER = """
import numpy as np
from lm_starter import load, next_char_distribution, next_char_log2_probs as honest

def next_char_log2_probs(model, text):
    return np.maximum(honest(model, text), np.log2(0.9))
"""

NOT_NORMALISED = """
import numpy as np
from lm_starter import ALPHABET, load

def next_char_log2_probs(model, text):
    return np.full(len(text), np.log2(0.5))

def next_char_distribution(model, context):
    return {c: 0.5 for c in ALPHABET}
"""

REMEMBERS_THE_TEXT = """
import numpy as np
from lm_starter import ALPHABET, load

SEEN = []

def next_char_log2_probs(model, text):
    SEEN.append(text)
    return np.full(len(text), np.log2(0.99))

def next_char_distribution(model, context):
    known = next((t for t in SEEN if t.startswith(context) and len(t) > len(context)), None)
    if known is None:
        return {c: 1 / len(ALPHABET) for c in ALPHABET}
    rest = 0.01 / (len(ALPHABET) - 1)
    return {c: 0.99 if c == known[len(context)] else rest for c in ALPHABET}
"""

RAISES = """
def load(workspace):
    raise RuntimeError("no model here")
"""


@pytest.fixture(scope="module")
def task() -> Task:
    found = find_task("austen-lm")
    found.prepare()
    return found


@pytest.fixture(scope="module")
def trained(task: Task, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace where the starter's train.py has run."""
    workspace = tmp_path_factory.mktemp("austen") / "workspace"
    task.make_workspace(workspace)
    subprocess.run([sys.executable, "train.py"], cwd=workspace, check=True, capture_output=True)
    return workspace


def score_with(lm_source: str | None, trained: Path, task: Task, tmp_path: Path) -> Score:
    workspace = tmp_path / "workspace"
    shutil.copytree(trained, workspace)
    if lm_source is not None:
        shutil.copyfile(workspace / "lm.py", workspace / "lm_starter.py")
        (workspace / "lm.py").write_text(lm_source, encoding="utf-8")
    return task.score(workspace, Sandbox(tmp_path / "scratch"), sys.executable)


def test_the_starter_model_is_scored_in_bits_per_character(
    trained: Path, task: Task, tmp_path: Path
) -> None:
    score = score_with(None, trained, task, tmp_path)
    assert score.error is None
    assert score.value == pytest.approx(task.spec.baseline, rel=1e-3)


@pytest.mark.parametrize(
    ("cheat", "complaint"),
    [
        (CERTAIN, "disagree"),
        (PEEKS_AT_THE_ANSWER, "disagree"),
        (NOT_NORMALISED, "sums to"),
        (REMEMBERS_THE_TEXT, "disagree"),
        (RAISES, "no model here"),
    ],
    ids=["certain", "peeks", "not-normalised", "remembers-the-text", "raises"],
)
def test_a_model_that_claims_what_it_cannot_know_gets_no_score(
    cheat: str, complaint: str, trained: Path, task: Task, tmp_path: Path
) -> None:
    score = score_with(cheat, trained, task, tmp_path)
    assert score.value is None
    assert complaint in (score.error or "")
