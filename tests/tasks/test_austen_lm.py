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

# The attacks below claim certainty for the text they are handed (0 bits per character), then
# try to learn in the check step which character comes next, where only the text before it is
# handed over: from the held-out file beside eval.py, from what the score step left behind,
# or from the process that calls them.
_CERTAIN_THEN = """
import glob, os, sys
from pathlib import Path
import numpy as np
from lm_starter import ALPHABET, load

def next_char_log2_probs(model, text):
    remember(text)
    return np.zeros(len(text))

def next_char_distribution(model, context):
    known = recall()
    if known is None or not known.startswith(context) or len(known) <= len(context):
        return {c: 1 / len(ALPHABET) for c in ALPHABET}
    return {c: 1.0 if c == known[len(context)] else 0.0 for c in ALPHABET}
"""

READS_THE_HELDOUT_FILE = (
    _CERTAIN_THEN
    + """
def remember(text):
    pass

def recall():
    for pattern in ("../eval/scripts/heldout.txt", "../../eval/scripts/heldout.txt",
                    "/proc/*/cwd/heldout.txt", "/proc/*/root/proc/*/cwd/heldout.txt"):
        for path in glob.glob(pattern):
            try:
                return Path(path).read_text()
            except OSError:
                pass
    return None
"""
)

LEAVES_THE_TEXT_IN_TMP = (
    _CERTAIN_THEN
    + """
def remember(text):
    for folder in ("/tmp", "/dev/shm", os.environ.get("HOME", "/tmp"), "."):
        try:
            Path(folder, "austen-seen.txt").write_text(text)
        except OSError:
            pass

def recall():
    for folder in ("/tmp", "/dev/shm", os.environ.get("HOME", "/tmp"), "."):
        try:
            return Path(folder, "austen-seen.txt").read_text()
        except OSError:
            pass
    return None
"""
)

READS_THE_CALLERS_REQUEST = (
    _CERTAIN_THEN
    + """
def remember(text):
    pass

def recall():
    main = sys.modules.get("__main__")
    request = getattr(main, "request", None)
    text = request.get("text") if isinstance(request, dict) else None
    # the caller's text ends where the last check starts: one character more is unknowable
    return text
"""
)

# Certain everywhere but where a check seeded as in the published eval.py would look.
KNOWS_WHERE_THE_CHECKS_ARE = """
import numpy as np
from lm_starter import load, next_char_distribution, next_char_log2_probs as honest

def next_char_log2_probs(model, text):
    drawn = np.random.default_rng(0).choice(np.arange(1, len(text)), size=99, replace=False)
    checked = [0, *drawn]
    claimed = np.zeros(len(text))
    claimed[checked] = honest(model, text)[checked]
    return claimed
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
        (READS_THE_HELDOUT_FILE, "disagree"),
        (LEAVES_THE_TEXT_IN_TMP, "disagree"),
        (READS_THE_CALLERS_REQUEST, "disagree"),
        (KNOWS_WHERE_THE_CHECKS_ARE, "disagree"),
        (RAISES, "no model here"),
    ],
    ids=[
        "certain",
        "peeks",
        "not-normalised",
        "remembers-the-text",
        "reads-the-heldout-file",
        "leaves-the-text-in-tmp",
        "reads-the-callers-request",
        "knows-where-the-checks-are",
        "raises",
    ],
)
def test_a_model_that_claims_what_it_cannot_know_gets_no_score(
    cheat: str, complaint: str, trained: Path, task: Task, tmp_path: Path
) -> None:
    score = score_with(cheat, trained, task, tmp_path)
    assert score.value is None
    assert complaint in (score.error or "")
