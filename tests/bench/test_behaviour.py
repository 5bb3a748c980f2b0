"""The behaviour table counts, from the traces, what each configuration's agents did."""

from __future__ import annotations

from pathlib import Path

import pytest

from budgetml.agents.planner import EXISTS
from budgetml.bench.behaviour import behaviour_by_config, behaviour_markdown, run_behaviour
from budgetml.bench.report import collect_runs
from budgetml.trace import ContextTrimmed, Escalation, Event, FormatFailure, RunEnd, StepDone
from tests.bench.conftest import RUNS, write_run


def test_each_configuration_gets_its_runs_steps_edits_and_endings(local_sweep: Path) -> None:
    rows = {row.config: row for row in behaviour_by_config(collect_runs(local_sweep))}
    eager, lazy = rows["eager"], rows["lazy"]
    assert eager.runs == lazy.runs == 2 * RUNS  # two tasks
    # eager: List Files, Write File, Execute Script, Final Answer; lazy answers at once
    assert eager.per_run["steps"] == 4 and lazy.per_run["steps"] == 1
    assert eager.per_run["edits"] == 1 and lazy.per_run["edits"] == 0
    assert eager.per_run["failed_script_runs"] == 0
    assert eager.ended == {"completed": 2 * RUNS} and eager.repeat_share == 0
    text = (local_sweep / "behaviour.md").read_text()
    assert text == behaviour_markdown(list(rows.values()))
    assert "| eager | 6 | 4.0 |" in text


def test_repeats_failed_script_runs_and_trims_are_counted(tmp_path: Path) -> None:
    def step(action: str, action_input: dict[str, str], observation: str) -> Event:
        return StepDone(step=1, action=action, action_input=action_input, observation=observation)

    run = {"script_name": "train.py"}
    events = [
        step("Execute Script", run, "The script failed with exit code 1. Here is the output:"),
        FormatFailure(model="m", attempt=1, error="no Action"),
        FormatFailure(model="m", attempt=2, error=f'Copy File: destination "data/" {EXISTS}'),
        ContextTrimmed(model="m", shown_steps=3),
        step("Execute Script", run, "The script has been executed. Here is the output:"),
        Escalation(from_model="m", to_model="n", reason="format: no Action"),
        step(
            "Execute Script",
            run,
            '(Ignored input key "parameters": Execute Script takes script_name.)\n'
            "The script has been executed. Here is the output:",
        ),
        step("Execute Script", run, "The script was stopped after the time limit of 60 s."),
        step("Request Help from a Planning Expert", {"stuck_on": "x"}, "plan"),
        RunEnd(status="max_steps", success=False),
    ]
    seen = run_behaviour(events)
    assert (seen.steps, seen.repeats, seen.failed_script_runs) == (5, 3, 2)
    assert (seen.format_failures, seen.escalations, seen.expert_calls) == (1, 1, 1)
    assert seen.refused_replies == 1  # well-formed, refused: not an unusable reply
    assert seen.context_trims == 1 and not seen.final_answer and seen.status == "max_steps"


def test_a_climb_for_a_repeat_counts_as_changing_the_step_only_if_it_did(tmp_path: Path) -> None:
    run, look = {"script_name": "train.py"}, {"dir_path": "."}

    def step(action: str, action_input: dict[str, str]) -> Event:
        return StepDone(step=1, action=action, action_input=action_input, observation="")

    def climb(reason: str) -> Event:
        return Escalation(from_model="m", to_model="n", reason=reason)

    events = [
        step("Execute Script", run),
        climb("repeat: Execute Script with the same input as in each of the last 3 steps"),
        climb("repeat: Execute Script with the same input as in each of the last 3 steps"),
        step("Execute Script", run),  # two climbs in one step, still the same step: 1, not 2
        climb("repeat: Execute Script with the same input as in each of the last 3 steps"),
        step("List Files", look),  # changed
        climb("format: no Action line"),
        step("List Files", look),  # a climb for the format does not count
        climb("repeat: List Files with the same input as in each of the last 3 steps"),
        RunEnd(status="error", success=False),  # the run ended in that step: not changed
    ]
    seen = run_behaviour(events)
    assert (seen.repeat_climbs, seen.repeat_climbs_changing) == (3, 1)


def test_how_often_the_best_came_before_the_last_step_and_by_how_much(tmp_path: Path) -> None:
    write_run(tmp_path, "c", "improved-then-ruined", [(2, 0.9), (4, 0.4), (5, 0.4)])
    write_run(tmp_path, "c", "broken-at-the-end", [(1, 0.8), (3, None)])
    write_run(tmp_path, "c", "best-at-the-end", [(1, 0.7), (3, 0.75)])
    (row,) = behaviour_by_config(collect_runs(tmp_path))
    assert (row.best_earlier, row.last_invalid) == (2, 1)
    assert row.best_gain == pytest.approx(0.5 - (0.4 - 0.6) / 0.6)  # only where both are valid
    text = behaviour_markdown([row])
    assert "| best before the last step | ended |" in text.splitlines()[0]
    assert "| 2 of 3, +83.3 pts, 1 with the last invalid |" in text
