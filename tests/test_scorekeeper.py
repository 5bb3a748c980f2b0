"""The end of a timed run: baseline and final measured in turn, so the load decides nothing.

The tasks here stand in for a machine whose load changes during a run: their time is a number
in a file that the test changes between the start of the run and its end.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from budgetml.config import ModelEntry, RunConfig, SandboxConfig
from budgetml.env.task import Task, load_task
from budgetml.run import start_run
from budgetml.summary import RunSummary
from tests.scripted_settings import EVERY_ACTION

EVAL_TIMES_IT = """import re
from pathlib import Path

HERE = Path(__file__).resolve().parent


def get_score(submission_folder):
    code = (Path(submission_folder) / "train.py").read_text()
    speed = float(re.search(r"SPEED = (\\S+)", code).group(1))
    return float((HERE / "load.txt").read_text()) / speed
"""
"""eval.py times the code: the machine's slowness (load.txt, beside it) over the code's speed."""


def reply(action: str, action_input: dict[str, str]) -> str:
    return (
        "Reflection: -\nResearch Plan and Status: -\nFact Check: -\nThought: -\n"
        f"Action: {action}\nAction Input: {json.dumps(action_input)}"
    )


RUN_IT = reply("Execute Script", {"script_name": "train.py"})
SUBMIT = reply("Final Answer", {"final_answer": "done"})


def speed_task(tmp_path: Path, *task_yaml_lines: str) -> Task:
    """A built-in-style speed task: eval.py times train.py, whose SPEED is 1."""
    root = tmp_path / "speed"
    (root / "env").mkdir(parents=True)
    (root / "scripts").mkdir()
    (root / "env/train.py").write_text("SPEED = 1\nprint('trained')\n")
    (root / "scripts/eval.py").write_text(EVAL_TIMES_IT)
    (root / "scripts/load.txt").write_text("2.0")
    (root / "scripts/research_problem.txt").write_text("Make train.py faster.")
    spec = ["name: speed", "metric: runtime_s", "higher_is_better: false", "measured_by: eval.py"]
    (root / "task.yaml").write_text("\n".join([*spec, *task_yaml_lines]) + "\n")
    return load_task(root)


def run(task: Task, replies: list[str], tmp_path: Path, on_end: Any, **settings: Any) -> RunSummary:
    """A scripted run; `on_end()` is called just before the last step is scored."""
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(replies))
    config = RunConfig(
        planner=[ModelEntry(model=f"scripted:{script}", retries=1)],
        max_steps=len(replies),
        **EVERY_ACTION,
        **settings,
    )

    def note(text: str) -> None:
        if text == "scoring the workspace":
            on_end()

    return start_run(task, config, config_label="t", run_dir=tmp_path / "run", on_note=note)


def events(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    lines = (run_dir / "trace.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == kind]


def test_a_run_that_changes_nothing_is_judged_against_the_starter_measured_beside_it(
    tmp_path: Path,
) -> None:
    task = speed_task(tmp_path)
    load = task.scripts_dir / "load.txt"
    summary = run(task, [RUN_IT, SUBMIT], tmp_path, lambda: load.write_text("1.0"))
    # Measured at the start the starter took 2.0 s; at the end (a calmer machine) 1.0 s.
    assert [e["value"] for e in events(tmp_path / "run", "baseline")] == [2.0]
    assert (summary.baseline, summary.score, summary.improvement) == (1.0, 1.0, 0.0)
    assert summary.success is False
    assert summary.baseline_source.startswith("measured at the end of the run, in turn with")
    (compared,) = events(tmp_path / "run", "timed_comparison")
    each = [1.0] * task.spec.measurements
    assert compared["baseline_values"] == compared["final_values"] == each
    assert (compared["baseline"], compared["final"]) == (1.0, 1.0)


def test_a_best_step_before_the_last_is_measured_again_beside_them(tmp_path: Path) -> None:
    task = speed_task(tmp_path)
    load = task.scripts_dir / "load.txt"
    replies = [
        reply("Write File", {"file_name": "train.py", "content": "SPEED = 4\n"}),
        reply("Write File", {"file_name": "train.py", "content": "SPEED = 1\n"}),
        SUBMIT,
    ]
    summary = run(task, replies, tmp_path, lambda: load.write_text("1.0"))
    scored = [(e["step"], e["value"]) for e in events(tmp_path / "run", "score")]
    assert scored == [(1, 0.5), (2, 2.0), (3, 1.0)]  # steps 1 and 2 under the start's load
    assert (summary.best_step, summary.best_score, summary.best_improvement) == (1, 0.25, -0.75)
    assert summary.best_success is True and summary.success is False
    (compared,) = events(tmp_path / "run", "timed_comparison")
    assert (compared["best_step"], compared["best_values"]) == (1, [0.25] * task.spec.measurements)


def test_an_improvement_within_the_noise_of_the_measurements_is_not_a_success(
    tmp_path: Path,
) -> None:
    """Submitted at once: the end's six scorings (starter, final, final, starter, starter,
    final) give these times; the final's best is 20% faster, but the final varies by 27%."""
    times = tmp_path / "machine" / "times.json"
    times.parent.mkdir()
    task = speed_task(tmp_path, "measurements: 3")
    (task.scripts_dir / "eval.py").write_text(
        "import json\n"
        "def get_score(submission_folder):\n"
        f"    with open({str(times)!r}, 'r+') as f:\n"
        "        left = json.load(f)\n"
        "        f.seek(0); f.truncate(); json.dump(left[1:], f)\n"
        "    return left[0]\n"
    )
    times.write_text(json.dumps([1.0] * 3))  # the start's baseline
    at_end = [1.0, 0.8, 1.1, 1.05, 1.1, 1.0]
    summary = run(
        task,
        [SUBMIT],
        tmp_path,
        lambda: times.write_text(json.dumps(at_end)),
        sandbox=SandboxConfig(isolation="process"),  # eval.py takes its times from that file
    )
    assert (summary.baseline, summary.score) == (1.0, 0.8), summary.score_error
    assert summary.improvement == pytest.approx(-0.2)
    assert summary.success is False
    assert "varied by up to 27%" in summary.baseline_source
    (compared,) = events(tmp_path / "run", "timed_comparison")
    assert (compared["baseline_values"], compared["final_values"]) == (
        [1.0, 1.05, 1.1],
        [0.8, 1.1, 1.0],
    )
    assert compared["noise"] == pytest.approx(0.2727, abs=1e-4)


def test_a_baseline_that_task_yaml_fixes_is_not_measured_again(tmp_path: Path) -> None:
    task = speed_task(tmp_path, "baseline: 1.5")
    load = task.scripts_dir / "load.txt"
    summary = run(task, [RUN_IT, SUBMIT], tmp_path, lambda: load.write_text("1.0"))
    assert (summary.baseline, summary.baseline_source, summary.score) == (1.5, "task.yaml", 1.0)
    assert summary.success is True
    assert events(tmp_path / "run", "timed_comparison") == []


def test_a_final_that_fails_at_the_end_still_gets_the_baseline_measured_there(
    tmp_path: Path,
) -> None:
    task = speed_task(tmp_path)
    load = task.scripts_dir / "load.txt"
    replies = [reply("Write File", {"file_name": "train.py", "content": "SPEED = 0\n"}), SUBMIT]
    summary = run(task, replies, tmp_path, lambda: load.write_text("1.0"))
    assert summary.score is None and "ZeroDivisionError" in (summary.score_error or "")
    assert (summary.baseline, summary.success) == (1.0, False)


def test_an_mlagentbench_runtime_task_measures_its_starter_again_at_the_end(
    mlab_task: Path, tmp_path: Path
) -> None:
    """No task.yaml: the starter writes its time, and eval.py reads it (MLAgentBench's way)."""
    slowness = tmp_path / "machine" / "slowness.txt"
    slowness.parent.mkdir()
    slowness.write_text("100.0")
    (mlab_task / "scripts/research_problem.txt").write_text("Cut the runtime of train.py.")
    (mlab_task / "env/train.py").write_text(
        f"open('submission.csv', 'w').write(open({str(slowness)!r}).read())\n"
    )
    task = load_task(mlab_task)
    assert task.spec.measured_by == "starter" and task.spec.baseline is None
    summary = run(
        task,
        [RUN_IT, SUBMIT],
        tmp_path,
        lambda: slowness.write_text("1.0"),
        sandbox=SandboxConfig(readable_paths=[slowness.parent]),
    )
    # Each time is the one written less the share the script waited for a CPU (at most all).
    (start,) = events(tmp_path / "run", "baseline")
    assert start["value"] > 1.0 >= summary.baseline > 0
    assert summary.score is not None and 0 < summary.score <= 1.0
    (compared,) = events(tmp_path / "run", "timed_comparison")
    assert len(compared["baseline_values"]) == len(compared["final_values"]) == 5
