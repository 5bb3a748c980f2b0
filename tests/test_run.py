"""End-to-end runs with scripted planners (fixed replies, not an LLM) on real task folders."""

import json
import shutil
from pathlib import Path

import pytest

from budgetml.agents.history import Step
from budgetml.config import ModelEntry, RunConfig
from budgetml.env.task import Task, find_task, load_task
from budgetml.replay import replay_run
from budgetml.resume import read_run, resume_run
from budgetml.run import start_run
from budgetml.trace import StepDone, StepScored, of_kind, read_events
from tests.scripted_settings import EVERY_ACTION

TRAJECTORIES = Path(__file__).parent / "fixtures" / "trajectories"
DEMO = Path(__file__).parents[1] / "src" / "budgetml" / "demo" / "vectorization-demo.json"


def reply(thought: str, action: str, action_input: dict[str, object]) -> str:
    return (
        f"Reflection: -\nResearch Plan and Status: -\nFact Check: -\nThought: {thought}\n"
        f"Action: {action}\nAction Input: {json.dumps(action_input)}"
    )


def config_for(script: Path, retries: int = 1, max_steps: int = 30) -> RunConfig:
    return RunConfig(
        planner=[ModelEntry(model=f"scripted:{script}", retries=retries)],
        max_steps=max_steps,
        **EVERY_ACTION,
    )


def write_script(tmp_path: Path, replies: list[str]) -> Path:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(replies))
    return path


def test_the_demo_vectorizes_the_code_and_succeeds(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    summary = start_run(
        find_task("vectorization"), config_for(DEMO), config_label="demo", run_dir=run_dir, seed=1
    )
    assert summary.status == "completed"
    assert summary.steps == 6
    assert summary.baseline is not None and summary.score is not None
    assert summary.score < summary.baseline * 0.5
    assert summary.success is True
    assert summary.baseline_source.startswith("measured at the end of the run")
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk["success"] is True and on_disk["seed"] == 1
    expected_keys = {
        "task",
        "config",
        "seed",
        "status",
        "steps",
        "baseline",
        "score",
        "improvement",
        "success",
        "cost_usd",
        "cost_usd_free_tier",
        "tokens",
        "escalations",
        "expert_calls",
        "format_failures",
        "wall_seconds",
    }
    assert expected_keys <= on_disk.keys()
    assert (run_dir / "config.yaml").is_file()
    events = [e.kind for e in read_events(run_dir / "trace.jsonl")]
    assert events[0] == "run_start" and events[-1] == "run_end"
    assert events.count("step") == 6 and events.count("llm_call") == 6
    assert "sliding_window_view" in (run_dir / "workspace" / "train.py").read_text()


def test_a_run_that_changes_nothing_does_not_succeed(tmp_path: Path) -> None:
    script = TRAJECTORIES / "vectorization-no-change.json"
    summary = start_run(
        find_task("vectorization"), config_for(script), config_label="t", run_dir=tmp_path / "run"
    )
    assert summary.status == "completed"
    assert summary.score is not None and summary.score_error is None
    assert summary.success is False


def test_a_run_that_breaks_the_output_is_scored_invalid(tmp_path: Path) -> None:
    script = TRAJECTORIES / "vectorization-broken.json"
    summary = start_run(
        find_task("vectorization"), config_for(script), config_label="t", run_dir=tmp_path / "run"
    )
    assert summary.score is None
    assert "output differs from the original implementation" in (summary.score_error or "")
    assert summary.success is False and summary.improvement is None


def test_an_mlagentbench_folder_that_is_not_ours_runs_unchanged(
    mlab_task: Path, tmp_path: Path
) -> None:
    trained = (mlab_task / "env/train.py").read_text().replace("0.1", "0.3")
    script = write_script(
        tmp_path,
        [
            reply("raise lr", "Write File", {"file_name": "train.py", "content": trained}),
            reply("run", "Execute Script", {"script_name": "train.py"}),
            reply("done", "Final Answer", {"final_answer": "raised the learning rate"}),
        ],
    )
    summary = start_run(
        load_task(mlab_task), config_for(script), config_label="t", run_dir=tmp_path / "run"
    )
    assert summary.baseline == pytest.approx(0.6)
    assert summary.score == pytest.approx(0.8)
    assert summary.improvement == pytest.approx(1 / 3)
    assert summary.success is True
    assert summary.final_answer == "raised the learning rate"


def test_the_step_cap_ends_the_run_with_max_steps(mlab_task: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, [reply("look", "List Files", {"dir_path": "."})] * 3)
    summary = start_run(
        load_task(mlab_task),
        config_for(script, max_steps=3),
        config_label="t",
        run_dir=tmp_path / "run",
    )
    assert (summary.status, summary.steps) == ("max_steps", 3)


def test_an_input_key_the_action_does_not_take_is_named_in_the_observation(
    mlab_task: Path, tmp_path: Path
) -> None:
    extra = reply("look", "List Files", {"dir_path": ".", "recursive": True})
    script = write_script(tmp_path, [extra])
    summary = start_run(
        load_task(mlab_task),
        config_for(script, max_steps=1),
        config_label="t",
        run_dir=tmp_path / "run",
    )
    assert (summary.status, summary.format_failures) == ("max_steps", 0)
    (step,) = of_kind(read_events(tmp_path / "run" / "trace.jsonl"), StepDone)
    assert step.action_input == {"dir_path": "."}
    assert step.observation.startswith(
        '(Ignored input key "recursive": List Files takes dir_path.)\n'
    )
    assert "train.py" in step.observation


def test_m_format_failures_end_the_run_with_status_error(mlab_task: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, ["no idea", "Action: List Files", "still nothing"])
    summary = start_run(
        load_task(mlab_task),
        config_for(script, retries=3),
        config_label="t",
        run_dir=tmp_path / "run",
    )
    assert summary.status == "error" and summary.format_failures == 3
    assert "3 tries" in (summary.error or "")
    assert summary.baseline == pytest.approx(0.6)


def test_an_exhausted_script_ends_the_run_with_status_error(
    mlab_task: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path, [reply("look", "List Files", {"dir_path": "."})])
    summary = start_run(
        load_task(mlab_task), config_for(script), config_label="t", run_dir=tmp_path / "run"
    )
    assert summary.status == "error" and summary.steps == 1
    assert "no reply left" in (summary.error or "")
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "error"


def test_a_used_run_directory_is_refused(mlab_task: Path, tmp_path: Path) -> None:
    from budgetml.errors import BudgetMLError

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "something").write_text("x")
    with pytest.raises(BudgetMLError, match="already exists"):
        start_run(load_task(mlab_task), config_for(DEMO), config_label="t", run_dir=run_dir)


GUESS_LABELS = Path(__file__).parent / "fixtures" / "tasks" / "guess-labels"
IMPROVE_THEN_RUIN = TRAJECTORIES / "guess-labels-improve-then-ruin.json"


def guess_labels(tmp_path: Path) -> Task:
    """A task whose best (0.9 at step 2) comes before its last step (0.4 at step 5)."""
    shutil.copytree(GUESS_LABELS, tmp_path / "guess-labels")
    return load_task(tmp_path / "guess-labels")


def test_a_step_that_changes_nothing_the_evaluation_reads_is_not_scored(
    mlab_task: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path,
        [
            reply("look", "List Files", {"dir_path": "."}),
            reply("keep a copy", "Copy File", {"source": "train.py", "destination": "old.py"}),
            reply("look", "Inspect Script Lines", {"script_name": "train.py",
                  "start_line_number": "1", "end_line_number": "3"}),
            reply("done", "Final Answer", {"final_answer": "nothing"}),
        ],
    )  # fmt: skip
    summary = start_run(
        load_task(mlab_task), config_for(script), config_label="t", run_dir=tmp_path / "run"
    )
    scores = of_kind(read_events(tmp_path / "run" / "trace.jsonl"), StepScored)
    assert [(e.step, e.final) for e in scores] == [(2, False), (4, True)]
    assert summary.best_step is None  # the starter writes submission.csv only when it runs


@pytest.mark.parametrize("killed_after", [2, 4])
def test_a_killed_run_resumes_with_its_best_kept(tmp_path: Path, killed_after: int) -> None:
    """Killed right after step 2 made the best (before its checkpoint), or two steps later."""
    run_dir = tmp_path / "run"

    def die(step: Step) -> None:
        if step.number == killed_after:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        start_run(
            guess_labels(tmp_path),
            config_for(IMPROVE_THEN_RUIN),
            config_label="t",
            run_dir=run_dir,
            on_step=die,
        )
    assert (run_dir / "best" / "step-2" / "model.py").is_file()
    summary = resume_run(read_run(run_dir))
    assert (summary.status, summary.steps, summary.score) == ("completed", 5, pytest.approx(0.4))
    assert (summary.best_step, summary.best_score) == (2, pytest.approx(0.9))
    assert summary.best_success is True and summary.success is False
    assert [p.name for p in (run_dir / "best").iterdir()] == ["step-2"]
    steps = [e.step for e in of_kind(read_events(run_dir / "trace.jsonl"), StepScored)]
    assert steps == [1, 2, 3, 4, 5]  # each step scored once, as the uninterrupted run


def test_a_replay_gets_the_same_best(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    start_run(
        guess_labels(tmp_path), config_for(IMPROVE_THEN_RUIN), config_label="t", run_dir=run_dir
    )
    result = replay_run(run_dir, tmp_path / "replay")
    assert result.same_actions
    for summary in (result.original, result.replayed):
        assert (summary.best_step, summary.best_score) == (2, pytest.approx(0.9))
        assert summary.score == pytest.approx(0.4)
    assert (tmp_path / "replay" / "best" / "step-2" / "model.py").is_file()


def test_a_task_whose_scoring_is_slow_is_scored_only_at_the_end(tmp_path: Path) -> None:
    folder = guess_labels(tmp_path).root
    with (folder / "task.yaml").open("a") as spec:
        spec.write("score_during_run: false\n")
    summary = start_run(
        load_task(folder), config_for(IMPROVE_THEN_RUIN), config_label="t", run_dir=tmp_path / "run"
    )
    scores = of_kind(read_events(tmp_path / "run" / "trace.jsonl"), StepScored)
    assert [e.step for e in scores] == [5]
    assert (summary.best_step, summary.best_score) == (5, pytest.approx(0.4))
