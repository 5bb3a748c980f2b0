"""Resuming in-process: a "kill" is an exception no code catches, raised at a chosen model call
or while a checkpoint is written; the resumed run must equal the uninterrupted one. The team is
the paper's full set-up (cascade with lifelines, expert, retrieval memory) with scripted models:
fixed replies standing in for LLMs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from budgetml.checkpoint import take_snapshot
from budgetml.config import ModelEntry, Price, RunConfig
from budgetml.env.task import load_task
from budgetml.errors import BudgetMLError
from budgetml.llm.base import Completion, Message
from budgetml.resume import check_settings, read_run, resume_run
from budgetml.run import RunRecorder, start_run
from budgetml.run_dir import RunDir
from budgetml.trace import Checkpoint, LlmCall, Resumed, RunStart, Trace, of_kind, read_events
from tests.agents.scripted_team import BAD, answer
from tests.resume.harness import outcome
from tests.scripted_settings import EVERY_ACTION


class Killed(BaseException):
    """Stands in for SIGKILL: nothing in the run catches it."""


def team_config(tmp_path: Path) -> RunConfig:
    cheap, strong = tmp_path / "cheap.json", tmp_path / "strong.json"
    trained = (Path(__file__).parents[1] / "fixtures/tasks/mlab-style/env/train.py").read_text()
    cheap.write_text(
        json.dumps(
            {
                "planner": [
                    answer("List Files", {"dir_path": "."}),
                    BAD,
                    BAD,
                    BAD,  # m = 3 format failures: step 2 climbs to the strong model
                    answer("Request Help from a Planning Expert", {"stuck_on": "what next"}),
                    write(trained.replace("0.1", "0.3")),
                    write(trained.replace("0.1", "0.5")),
                    answer("Undo Edit Script", {"script_name": "train.py"}),  # back to 0.3
                    answer("Execute Script", {"script_name": "train.py"}),
                    answer("Final Answer", {"final_answer": "raised the learning rate"}),
                ],
                "worker": [f"note {i}" for i in range(1, 15)],  # summaries and recalls
            }
        )
    )
    strong.write_text(
        json.dumps(
            {
                "planner": [
                    answer(
                        "Inspect Script Lines",
                        {"script_name": "train.py", "start_line_number": 1, "end_line_number": 5},
                    )
                ],
                "expert": ["Raise the learning rate to 0.3."],
            }
        )
    )
    cheap_model, strong_model = f"scripted:{cheap}", f"scripted:{strong}"
    cascade = [ModelEntry(model=cheap_model, retries=3), ModelEntry(model=strong_model, retries=1)]
    return RunConfig(
        planner=cascade,
        expert=ModelEntry(model=strong_model),
        retrieval=True,
        lifelines=2,  # both spent by step 3: the expert then leaves the planner's prompt
        max_steps=8,
        prices={
            cheap_model: Price(input=1, output=2, free_tier=True),
            strong_model: Price(input=30, output=60),
        },
        **EVERY_ACTION,
    )


def write(content: str) -> str:
    return answer("Write File", {"file_name": "train.py", "content": content})


TOTAL_CALLS = 26  # cheap planner 10, worker 14, strong planner 1, expert 1


@pytest.fixture
def kill_at_call(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int | None]]:
    """Set `kills[0]` to n: the n-th model call this process records raises Killed instead
    (the reply came back, but the kill fell before it reached the trace)."""
    kills: list[int | None] = [None]
    seen = [0]
    original = RunRecorder.llm_call

    def llm_call(
        self: RunRecorder, agent: str, messages: Sequence[Message], completion: Completion
    ) -> None:
        seen[0] += 1
        if seen[0] == kills[0]:
            seen[0] = 0
            kills[0] = None
            raise Killed
        original(self, agent, messages, completion)

    monkeypatch.setattr(RunRecorder, "llm_call", llm_call)
    yield kills


def full_outcome(run_dir: Path) -> dict[str, Any]:
    """What the run left, with every prompt: they show the lifelines left and the memory."""
    prompts = [e.messages for e in of_kind(read_events(run_dir / "trace.jsonl"), LlmCall)]
    return {
        **outcome(run_dir),
        "prompts": prompts,
        "log": (run_dir / "research_log.md").read_text(),
    }


@pytest.fixture
def reference(mlab_task: Path, tmp_path: Path) -> dict[str, Any]:
    run_dir = tmp_path / "reference"
    task = load_task(mlab_task)
    summary = start_run(task, team_config(tmp_path), config_label="t", run_dir=run_dir)
    assert summary.status == "completed" and summary.success and summary.score == 0.8
    assert (summary.escalations, summary.expert_calls, summary.format_failures) == (1, 1, 3)
    assert sum(int(t["calls"]) for t in summary.tokens.values()) == TOTAL_CALLS
    return full_outcome(run_dir)


def killed_run(mlab_task: Path, tmp_path: Path, run_dir: Path) -> None:
    with pytest.raises(Killed):
        start_run(load_task(mlab_task), team_config(tmp_path), config_label="t", run_dir=run_dir)
    assert not (run_dir / "summary.json").exists()


@pytest.mark.parametrize("call", [1, 2, 5, 6, 7, 9, 11, 14, 19, 22, 25, 26])
def test_a_team_run_killed_at_any_model_call_resumes_to_the_same_run(
    call: int,
    mlab_task: Path,
    tmp_path: Path,
    reference: dict[str, Any],
    kill_at_call: list[int | None],
) -> None:
    run_dir = tmp_path / "run"
    kill_at_call[0] = call
    killed_run(mlab_task, tmp_path, run_dir)
    summary = resume_run(read_run(run_dir))
    assert summary.status == "completed"
    assert full_outcome(run_dir) == reference


def test_a_resumed_run_killed_while_catching_up_resumes_again(
    mlab_task: Path, tmp_path: Path, reference: dict[str, Any], kill_at_call: list[int | None]
) -> None:
    run_dir = tmp_path / "run"
    kill_at_call[0] = 12  # step 3's summary: its recall, plan and expert call are in the trace
    killed_run(mlab_task, tmp_path, run_dir)
    kill_at_call[0] = 2  # the resumed run dies on its second call, answered from the trace
    with pytest.raises(Killed):
        resume_run(read_run(run_dir))
    kill_at_call[0] = 4  # and then on its first call made afresh
    with pytest.raises(Killed):
        resume_run(read_run(run_dir))
    resume_run(read_run(run_dir))
    assert full_outcome(run_dir) == reference
    raw = read_events(run_dir / "trace.jsonl", superseded=True)
    assert [e.from_step for e in of_kind(raw, Resumed)] == [2, 2, 2]
    current = read_events(run_dir / "trace.jsonl")
    assert len(of_kind(current, LlmCall)) == TOTAL_CALLS


def test_a_kill_while_a_snapshot_is_written_resumes_from_the_one_before(
    mlab_task: Path, tmp_path: Path, reference: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "run"
    calls = [0]

    def dying_snapshot(workspace: Path, target: Path, previous: Path | None) -> None:
        calls[0] += 1
        if calls[0] == 4:
            (target.with_name(target.name + ".partial")).mkdir(parents=True)
            raise Killed
        take_snapshot(workspace, target, previous)

    monkeypatch.setattr("budgetml.checkpoint.take_snapshot", dying_snapshot)
    killed_run(mlab_task, tmp_path, run_dir)
    assert (run_dir / "checkpoints/step-4.partial").is_dir()
    resume_run(read_run(run_dir))
    assert full_outcome(run_dir) == reference
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["step-6", "step-7"]


def test_snapshots_link_unchanged_files_and_copy_changed_ones(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    (workspace / "data").mkdir(parents=True)
    (workspace / "data" / "big.csv").write_text("x,y\n" * 1000)
    (workspace / "train.py").write_text("print(1)\n")
    first, second = tmp_path / "step-1", tmp_path / "step-2"
    take_snapshot(workspace, first, None)
    (workspace / "train.py").write_text("print(2)\n")
    take_snapshot(workspace, second, first)
    linked = os.stat(second / "data/big.csv").st_ino == os.stat(first / "data/big.csv").st_ino
    copied = os.stat(second / "train.py").st_ino != os.stat(first / "train.py").st_ino
    assert linked and copied
    assert (first / "train.py").read_text() == "print(1)\n"
    assert (second / "train.py").read_text() == "print(2)\n"
    assert not (tmp_path / "step-2.partial").exists()


def test_a_run_killed_before_its_first_checkpoint_starts_over(
    mlab_task: Path, tmp_path: Path, reference: dict[str, Any]
) -> None:
    run_dir = tmp_path / "run"
    config = team_config(tmp_path)
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(config.to_yaml())
    with Trace(run_dir / "trace.jsonl") as trace:  # killed while measuring the baseline
        trace.write(RunStart(task="mlab-style", task_dir=str(mlab_task), config="t", seed=0,
                             metric="score", higher_is_better=True, python="python"))  # fmt: skip
    (run_dir / "workspace").mkdir()
    (run_dir / "workspace" / "half-copied.txt").write_text("from the killed run")
    resume_run(read_run(run_dir))
    assert full_outcome(run_dir) == reference
    events = [e.kind for e in read_events(run_dir / "trace.jsonl")]
    assert events[:3] == ["resumed", "run_start", "baseline"]


def test_a_run_killed_before_it_recorded_its_start_needs_the_task_named(
    mlab_task: Path, tmp_path: Path, reference: dict[str, Any]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(team_config(tmp_path).to_yaml())
    with pytest.raises(BudgetMLError, match="name the task again"):
        read_run(run_dir)
    resume_run(read_run(run_dir, str(mlab_task)))
    ours, theirs = full_outcome(run_dir), reference
    assert ours == theirs


def test_resume_keeps_the_recorded_settings_and_refuses_others(
    mlab_task: Path, tmp_path: Path, kill_at_call: list[int | None]
) -> None:
    run_dir = tmp_path / "run"
    kill_at_call[0] = 3
    killed_run(mlab_task, tmp_path, run_dir)
    run = read_run(run_dir, str(mlab_task), seed=0)
    check_settings(run, team_config(tmp_path), higher_is_better=True)  # the same: fine
    with pytest.raises(BudgetMLError, match="max_steps differs"):
        check_settings(run, team_config(tmp_path).with_settings(max_steps=3))
    with pytest.raises(BudgetMLError, match="leave the direction flag out"):
        check_settings(run, higher_is_better=False)
    with pytest.raises(BudgetMLError, match="--seed 0"):
        read_run(run_dir, seed=4)
    other = tmp_path / "other-task"
    other.mkdir()
    for part in ("env", "scripts"):
        (other / part).symlink_to(mlab_task / part)
    with pytest.raises(BudgetMLError, match="not of"):
        read_run(run_dir, str(other))


def test_a_finished_run_has_nothing_to_resume(
    mlab_task: Path, tmp_path: Path, reference: dict[str, Any]
) -> None:
    summary = RunDir(tmp_path / "reference").read_summary()
    assert summary is not None and summary.status == "completed"
    assert RunDir(tmp_path).read_summary() is None


def test_a_run_directory_in_use_is_refused(
    mlab_task: Path, tmp_path: Path, kill_at_call: list[int | None]
) -> None:
    import fcntl

    run_dir = tmp_path / "run"
    kill_at_call[0] = 3
    killed_run(mlab_task, tmp_path, run_dir)
    with (run_dir / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(BudgetMLError, match="in use by another budgetml process"):
            resume_run(read_run(run_dir))
    assert not (run_dir / "summary.json").exists()


def test_the_trace_reads_as_the_run_stands_after_a_resume(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    start = RunStart(task="t", task_dir="t", config="c", seed=0, metric="m", higher_is_better=True)

    def call(reply: str, recovered: bool = False) -> LlmCall:
        return LlmCall(
            agent="planner", model="m", messages=[], reply=reply, input_tokens=1,
            output_tokens=1, cost_usd=0.0, recovered=recovered,
        )  # fmt: skip

    with Trace(path) as trace:
        trace.write(start)
        trace.write(Checkpoint(step=0))
        trace.write(call("a"))
        trace.write(Checkpoint(step=1))
        trace.write(call("b"))
    with path.open("a") as handle:
        handle.write('{"event": "step", "st')  # killed while writing
    with Trace(path) as trace:  # the resumed run
        trace.write(Resumed(from_step=1))
        trace.write(call("b", recovered=True))
    assert path.read_text().splitlines()[-3] == '{"event": "step", "st'
    current = [(e.kind, getattr(e, "reply", None)) for e in read_events(path)]
    assert current == [
        ("run_start", None),
        ("checkpoint", None),
        ("llm_call", "a"),
        ("checkpoint", None),
        ("resumed", None),
        ("llm_call", "b"),
    ]
    everything = [getattr(e, "reply", None) for e in read_events(path, superseded=True)]
    assert everything.count("b") == 2
    with Trace(path) as trace:  # a resume from before the first checkpoint starts over
        trace.write(Resumed(from_step=None))
        trace.write(start)
    assert [e.kind for e in read_events(path)] == ["resumed", "run_start"]
