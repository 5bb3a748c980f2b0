"""Scoring through the submission's own processes (env/scoring.py, env/submission_host.py):
eval.py asks for fresh ones, each in a sandbox of its own, killed when closed or timed out."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from budgetml.env import bubblewrap
from budgetml.env.sandbox import Sandbox
from budgetml.env.scoring import Score
from budgetml.env.task import load_task

BWRAP_WORKS = sys.platform == "linux" and bubblewrap.unusable_reason() is None
needs_bwrap = pytest.mark.skipif(not BWRAP_WORKS, reason="bubblewrap cannot run here")


def score(tmp_path: Path, eval_py: str, model_py: str, timeout_s: int = 60) -> Score:
    """Score a workspace holding `model_py` with a task whose eval.py is `eval_py`."""
    task = tmp_path / "task"
    (task / "env").mkdir(parents=True)
    (task / "env" / "model.py").write_text(model_py)
    (task / "scripts").mkdir()
    (task / "scripts" / "research_problem.txt").write_text("Improve model.py.")
    (task / "scripts" / "eval.py").write_text(eval_py)
    (task / "task.yaml").write_text(f"baseline: 0.5\neval_timeout_s: {timeout_s}\n")
    loaded = load_task(task)
    workspace = tmp_path / "workspace"
    loaded.make_workspace(workspace)
    return loaded.score(workspace, Sandbox(tmp_path / "scratch"), sys.executable)


# The first process leaves what it can: a module global, files in /tmp, /dev/shm and its copy
# of the workspace, and a thread that keeps writing; the second looks for all of it.
LEAVING_MODEL = """
import os, threading, time
from pathlib import Path
SEEN = []
PLACES = [Path("/tmp"), Path("/dev/shm"), Path(".")]

def leave(secret):
    SEEN.append(secret)
    def keep_writing():
        while True:
            for place in PLACES:
                try:
                    (place / "left.txt").write_text(secret)
                except OSError:
                    pass
            time.sleep(0.05)
    threading.Thread(target=keep_writing, daemon=False).start()
    time.sleep(0.2)

def find():
    found = list(SEEN)
    for place in PLACES:
        try:
            found.append((place / "left.txt").read_text())
        except OSError:
            pass
    return found
"""

TWO_PROCESSES_EVAL = """
import budgetml_submission
def get_score(folder):
    with budgetml_submission.new_process() as first:
        first.module("model.py").leave("secret")
    with budgetml_submission.new_process() as second:
        found = second.module("model.py").find()
    if found:
        raise ValueError(f"the second process found {found}")
    return 1.0
"""


@needs_bwrap
def test_a_fresh_process_of_the_submission_finds_nothing_an_earlier_one_left(
    tmp_path: Path,
) -> None:
    assert score(tmp_path, TWO_PROCESSES_EVAL, LEAVING_MODEL) == Score(1.0)


SLOW_MODEL = "import time\ndef work():\n    time.sleep(30)\n"

TIMED_OUT_EVAL = """
import budgetml_submission
def get_score(folder):
    with budgetml_submission.new_process(timeout_s=1) as process:
        try:
            process.module("model.py").work()
        except budgetml_submission.SubmissionTimedOut as exc:
            raise ValueError(f"model.py was stopped: {exc}") from None
    return 1.0
"""


def test_a_process_of_the_submission_past_its_time_is_stopped(tmp_path: Path) -> None:
    started = time.monotonic()
    result = score(tmp_path, TIMED_OUT_EVAL, SLOW_MODEL)
    assert result.value is None
    assert "model.py was stopped: the submission's process took over 1 s" in (result.error or "")
    assert time.monotonic() - started < 20


CRASHING_MODEL = (
    "import os, sys\n"
    "def work():\n"
    "    print('about to leave', file=sys.stderr, flush=True)\n"
    "    os._exit(3)\n"
)

IMPORTING_EVAL = "import sys\ndef get_score(folder):\n    sys.path.insert(0, folder)\n"
IMPORTING_EVAL += "    import model\n    model.work()\n    return 1.0\n"


def test_a_submission_that_dies_mid_call_is_told_at_once_with_its_last_output(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    result = score(tmp_path, IMPORTING_EVAL, CRASHING_MODEL, timeout_s=60)
    assert result.value is None
    assert "SubmissionCrashed" in (result.error or "")
    assert "its last output: about to leave" in (result.error or "")
    assert time.monotonic() - started < 30


# work() returns at once an object that does the work when it is read, after the clock stopped.
LAZY_MODEL = """
import time

class Lazy:
    def __iter__(self):
        time.sleep(1.0)
        return iter([1, 2, 3])

    def __array__(self, dtype=None, copy=None):
        import numpy as np
        return np.asarray(list(self), dtype=dtype)

def work():
    return Lazy()
"""

TIMING_EVAL = """
import sys
import budgetml_submission
def get_score(folder):
    sys.path.insert(0, folder)
    import model
    result, elapsed = budgetml_submission.timed(model.work)
    if list(result) != [1, 2, 3]:
        raise ValueError("wrong result")
    return elapsed
"""


def test_a_timed_call_that_returns_work_for_later_is_refused(tmp_path: Path) -> None:
    result = score(tmp_path, TIMING_EVAL, LAZY_MODEL)
    assert result.value is None, result
    assert "a timed call must return plain data" in (result.error or "")


def test_a_timed_call_that_returns_plain_data_is_timed(tmp_path: Path) -> None:
    eager = "import time\ndef work():\n    time.sleep(0.3)\n    return [1, 2, 3]\n"
    result = score(tmp_path, TIMING_EVAL, eager)
    assert result.value is not None and result.value >= 0.25, result
