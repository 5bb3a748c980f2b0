"""The planner's prompt and retries, with scripted models (fixed replies, not LLMs)."""

from pathlib import Path

import pytest

from budgetml.agents.cascade import Level, Lifelines
from budgetml.agents.parser import PlannerReply
from budgetml.agents.planner import PLANNER_PROFILE, Planner, PlanningFailed, Step
from budgetml.env.actions import ACTIONS
from budgetml.llm.base import Message
from tests.agents.scripted_team import BAD, GOOD, Recorder, scripted


def planner(tmp_path: Path, replies: list[str], retries: int = 3) -> tuple[Planner, Recorder]:
    recorder = Recorder()
    level = Level(scripted(tmp_path, "cheap", replies), retries, 500)
    return Planner((level,), ACTIONS, 0.2, 3, 3, Lifelines(5), recorder), recorder


def step(number: int) -> Step:
    reply = PlannerReply("List Files", {"dir_path": "."}, {}, f"Thought: step {number} marker")
    return Step(number, reply, f"observation {number} marker")


def test_prompt_holds_problem_action_docs_and_only_the_last_three_steps(tmp_path: Path) -> None:
    plan, _ = planner(tmp_path, [GOOD])
    text = plan.prompt("Make it faster.", [step(n) for n in range(1, 6)], steps_left=25)
    assert "Make it faster." in text
    for action in ACTIONS:
        assert f"- {action.name}: {action.description}" in text
        for item in action.inputs:
            assert f'"{item.name}"' in text
    labels = ("Reflection", "Research Plan and Status", "Fact Check", "Thought", "Action")
    for label in (*labels, "Action Input"):
        assert f"{label}:" in text
    assert "observation 1 marker" not in text and "step 2 marker" not in text
    assert all(f"observation {n} marker" in text for n in (3, 4, 5))
    assert "2 earlier step(s) are not shown" in text
    assert "You have 25 step(s) left" in text
    assert "research log" not in text


def test_recalled_notes_appear_in_the_prompt(tmp_path: Path) -> None:
    plan, _ = planner(tmp_path, [GOOD])
    assert "Relevant notes from your research log:\nlr=0.1 was best" in plan.prompt(
        "goal", [], 30, notes="lr=0.1 was best"
    )


def test_a_good_reply_is_parsed_on_the_first_try(tmp_path: Path) -> None:
    plan, recorder = planner(tmp_path, [GOOD])
    reply = plan.next_action("goal", [], 30)
    assert (reply.action, reply.action_input) == ("List Files", {"dir_path": "."})
    assert recorder.calls[0][2][0] == Message("system", PLANNER_PROFILE)
    assert not recorder.failures


def test_a_format_error_is_fed_back_and_the_retry_succeeds(tmp_path: Path) -> None:
    plan, recorder = planner(tmp_path, [BAD, GOOD])
    assert plan.next_action("goal", [], 30).action == "List Files"
    assert len(recorder.failures) == 1
    retry = recorder.calls[1][2]
    assert retry[-2] == Message("assistant", BAD)
    assert retry[-1].role == "user" and "could not be used" in retry[-1].content
    assert recorder.failures[0][2] in retry[-1].content


def test_the_step_fails_after_m_malformed_replies(tmp_path: Path) -> None:
    bad = "Action: Fly Away\nAction Input: {}"
    plan, recorder = planner(tmp_path, [bad, bad, bad, GOOD], retries=3)
    with pytest.raises(PlanningFailed, match="3 tries.*Fly Away"):
        plan.next_action("goal", [], 30)
    assert [attempt for _, attempt, _ in recorder.failures] == [1, 2, 3]
    assert len(recorder.calls) == 3 and not recorder.escalations
