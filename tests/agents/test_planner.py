"""The planner with a scripted model (fixed replies, not an LLM) standing in for the LLM."""

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from budgetml.agents.parser import PlannerReply
from budgetml.agents.planner import PLANNER_PROFILE, Planner, PlanningFailed, Step
from budgetml.config import Price
from budgetml.env.actions import ACTIONS
from budgetml.llm.base import Completion, Message
from budgetml.llm.scripted import ScriptedModel

GOOD = (
    "Reflection: r\nResearch Plan and Status: p\nFact Check: f\nThought: t\n"
    'Action: List Files\nAction Input: {"dir_path": "."}'
)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[Message]] = []
        self.failures: list[tuple[int, str]] = []

    def llm_call(self, agent: str, messages: Sequence[Message], completion: Completion) -> None:
        self.calls.append(list(messages))

    def format_failure(self, model: str, attempt: int, error: str) -> None:
        self.failures.append((attempt, error))


def planner(tmp_path: Path, replies: list[str], retries: int = 3) -> tuple[Planner, Recorder]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"planner": replies}))
    model = ScriptedModel(f"scripted:{script}", script, Price(input=0, output=0))
    recorder = Recorder()
    return Planner(model, retries, 500, 0.2, ACTIONS, 3, recorder), recorder


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
    for label in (
        "Reflection:",
        "Research Plan and Status:",
        "Fact Check:",
        "Thought:",
        "Action:",
        "Action Input:",
    ):
        assert label in text
    assert "observation 1 marker" not in text and "step 2 marker" not in text
    assert all(f"observation {n} marker" in text for n in (3, 4, 5))
    assert "2 earlier step(s) are not shown" in text
    assert "You have 25 step(s) left" in text


def test_a_good_reply_is_parsed_on_the_first_try(tmp_path: Path) -> None:
    plan, recorder = planner(tmp_path, [GOOD])
    reply = plan.next_action("goal", [], 30)
    assert (reply.action, reply.action_input) == ("List Files", {"dir_path": "."})
    assert recorder.calls[0][0] == Message("system", PLANNER_PROFILE)
    assert not recorder.failures


def test_a_format_error_is_fed_back_and_the_retry_succeeds(tmp_path: Path) -> None:
    plan, recorder = planner(tmp_path, ["I think we should look around.", GOOD])
    assert plan.next_action("goal", [], 30).action == "List Files"
    assert len(recorder.failures) == 1
    retry = recorder.calls[1]
    assert retry[-2] == Message("assistant", "I think we should look around.")
    assert retry[-1].role == "user" and "could not be used" in retry[-1].content
    assert recorder.failures[0][1] in retry[-1].content


def test_the_step_fails_after_m_malformed_replies(tmp_path: Path) -> None:
    bad = "Action: Fly Away\nAction Input: {}"
    plan, recorder = planner(tmp_path, [bad, bad, bad, GOOD], retries=3)
    with pytest.raises(PlanningFailed, match="3 tries.*Fly Away"):
        plan.next_action("goal", [], 30)
    assert [attempt for attempt, _ in recorder.failures] == [1, 2, 3]
    assert len(recorder.calls) == 3
