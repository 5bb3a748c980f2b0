"""Timed tasks: workspaces measured in turn, alike."""

import sys
from pathlib import Path

import pytest

from budgetml.env.sandbox import Sandbox
from budgetml.env.task import load_task
from budgetml.env.timing import Timing, measure_in_turn

A, B, C = Path("a"), Path("b"), Path("c")


def test_workspaces_take_turns_after_one_warm_up_each() -> None:
    calls: list[str] = []

    def warm_up(workspace: Path) -> None:
        calls.append(f"warm {workspace}")

    def measure(workspace: Path) -> float:
        calls.append(str(workspace))
        return float(len(calls))

    timings = measure_in_turn([A, B], 3, measure, warm_up)
    assert calls == ["warm a", "warm b", "a", "b", "b", "a", "a", "b"]
    assert timings == [Timing((3.0, 6.0, 7.0)), Timing((4.0, 5.0, 8.0))]


def test_a_workspace_whose_run_fails_drops_out_and_the_others_go_on() -> None:
    calls: list[Path] = []

    def measure(workspace: Path) -> float | str:
        calls.append(workspace)
        return "train.py failed" if workspace == B and len(calls) > 2 else 1.0

    baseline, final, best = measure_in_turn([A, B, C], 3, measure)
    assert calls == [A, B, C, C, B, A, A, C]
    assert (baseline, best) == (Timing((1.0, 1.0, 1.0)), Timing((1.0, 1.0, 1.0)))
    assert final == Timing((1.0,), "train.py failed")
    assert final.score(higher_is_better=False).error == "train.py failed"


def test_a_failed_warm_up_measures_nothing_of_that_workspace() -> None:
    timings = measure_in_turn([A, B], 2, lambda w: 1.0, lambda w: "no train.py" if w == A else None)
    assert timings == [Timing((), "no train.py"), Timing((1.0, 1.0))]


@pytest.mark.parametrize(("higher_is_better", "best"), [(True, 3.0), (False, 1.0)])
def test_the_best_measurement_counts_in_the_metrics_direction(
    higher_is_better: bool, best: float
) -> None:
    assert Timing((2.0, 1.0, 3.0)).best(higher_is_better) == best
    assert Timing((2.0,), "timed out").best(higher_is_better) is None


def test_the_spread_of_a_timing_is_how_far_its_lowest_falls_below_its_highest() -> None:
    assert Timing((0.8, 1.1, 1.0)).spread == pytest.approx(0.3 / 1.1)
    assert Timing((2.0,)).spread == Timing().spread == 0.0


def test_a_self_timed_task_measures_each_workspace_the_same_number_of_times(
    mlab_task: Path, tmp_path: Path
) -> None:
    (mlab_task / "scripts/research_problem.txt").write_text("Cut the runtime of train.py.")
    (mlab_task / "env/train.py").write_text(
        "import time\nDELAY = 0.5\nstart = time.time()\ntime.sleep(DELAY)\n"
        "open('submission.csv', 'w').write(str(time.time() - start))\n"
        "open('runs.log', 'a').write('run\\n')\n"
    )
    task = load_task(mlab_task)
    slow, fast = tmp_path / "slow", tmp_path / "fast"
    task.make_workspace(slow)
    task.make_workspace(fast)
    (fast / "train.py").write_text((slow / "train.py").read_text().replace("0.5", "0.01"))
    sandbox = Sandbox(tmp_path / "scratch")
    baseline, final = task.measure_in_turn([slow, fast], sandbox, sys.executable)
    assert len(baseline.values) == len(final.values) == task.spec.measurements
    assert baseline.error is None and final.error is None
    assert min(final.values) < 0.1 < 0.2 < min(baseline.values)
    assert not (slow / "runs.log").exists()  # measured on scratch copies, removed afterwards
    assert not list((tmp_path / "scratch").glob("measured-workspace-*"))
