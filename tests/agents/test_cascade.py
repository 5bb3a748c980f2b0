"""The cascade and the lifelines, with scripted models (fixed replies, not LLMs) per level."""

from pathlib import Path

import pytest

from budgetml.agents.cascade import Level, PlanningFailed
from budgetml.agents.expert import expert_action
from budgetml.agents.history import Step
from budgetml.agents.parser import PlannerReply
from budgetml.agents.planner import EXPERT_ACTION, Planner
from budgetml.env.actions import ACTIONS, ActionContext, execute
from tests.agents.scripted_team import BAD, GOOD, Recorder, answer, make_planner, scripted

LOOK = PlannerReply("List Files", {"dir_path": "."}, {}, "Action: List Files")
READ = answer("Read File", {"file_name": "train.py"})


def cascade(
    tmp_path: Path, scripts: list[list[str]], retries: list[int], lifelines: int = 5
) -> tuple[Planner, Recorder]:
    recorder = Recorder()
    names = ["cheap", "mid", "top"][: len(scripts)]
    levels = tuple(
        Level(scripted(tmp_path, name, replies), m, 500)
        for name, replies, m in zip(names, scripts, retries, strict=True)
    )
    return make_planner(levels, recorder, lifelines=lifelines), recorder


def looked(times: int) -> list[Step]:
    return [Step(n, LOOK, "train.py") for n in range(1, times + 1)]


def test_format_failures_climb_after_exactly_m_tries_per_level(tmp_path: Path) -> None:
    plan, recorder = cascade(tmp_path, [[BAD] * 3, [BAD] * 3, [GOOD]], [3, 3, 1])
    assert plan.next_action("goal", [], 30).action == "List Files"
    assert recorder.models_called() == ["scripted:cheap"] * 3 + ["scripted:mid"] * 3 + [
        "scripted:top"
    ]
    assert [(f, t) for f, t, _ in recorder.escalations] == [
        ("scripted:cheap", "scripted:mid"),
        ("scripted:mid", "scripted:top"),
    ]
    assert all(reason.startswith("format:") for _, _, reason in recorder.escalations)
    assert plan.lifelines.used == 1


def test_the_repeat_rule_climbs_on_the_rth_repeat_and_not_before(tmp_path: Path) -> None:
    plan, recorder = cascade(tmp_path, [[GOOD, GOOD], [READ]], [3, 1])
    assert plan.next_action("goal", looked(2), 28).action == "List Files"
    assert not recorder.escalations
    assert plan.next_action("goal", looked(3), 27).action == "Read File"
    assert recorder.escalations[0][2].startswith("repeat: List Files")


def test_a_repeat_at_the_top_is_pointed_out_once_and_a_new_action_taken(tmp_path: Path) -> None:
    read = answer("Read File", {"file_name": "train.py"})
    plan, recorder = cascade(tmp_path, [[GOOD, read]], [3])
    assert plan.next_action("goal", looked(3), 27).action == "Read File"
    assert not recorder.escalations
    nudge = recorder.calls[1][2][-1].content
    assert "You proposed List Files with the same input as in each of your last 3 steps" in nudge


def test_a_repeat_at_the_top_is_kept_when_the_model_insists(tmp_path: Path) -> None:
    plan, recorder = cascade(tmp_path, [[GOOD, GOOD]], [3])
    assert plan.next_action("goal", looked(3), 27).action == "List Files"
    assert len(recorder.calls) == 2 and not recorder.escalations
    # asked again without List Files, it named it anyway: one try, then the repeat is kept
    ((_, _, problem),) = recorder.failures
    assert "List Files is not" in problem or "List Files" in problem


def test_a_climb_for_a_repeat_tells_the_stronger_model_what_was_repeated(tmp_path: Path) -> None:
    plan, recorder = cascade(tmp_path, [[GOOD], [READ]], [3, 1])
    assert plan.next_action("goal", looked(3), 27).action == "Read File"
    to_mid = recorder.calls[1][2]
    assert to_mid[-2].role == "assistant" and "Action: List Files" in to_mid[-2].content
    assert "You proposed List Files with the same input as in each of your last 3" in (
        to_mid[-1].content
    )


def test_a_climb_for_bad_format_asks_the_stronger_model_afresh(tmp_path: Path) -> None:
    plan, recorder = cascade(tmp_path, [[BAD], [GOOD]], [1, 1])
    plan.next_action("goal", [], 30)
    assert recorder.calls[1][2] == plan.last_conversation


def test_a_top_model_told_of_the_repeat_that_insists_is_not_asked_again(tmp_path: Path) -> None:
    plan, recorder = cascade(tmp_path, [[GOOD], [GOOD]], [3, 1])
    assert plan.next_action("goal", looked(3), 27).action == "List Files"
    assert recorder.models_called() == ["scripted:cheap", "scripted:mid"]
    assert plan.lifelines.used == 1


def test_a_climb_for_a_repeat_that_gets_no_usable_reply_keeps_the_repeat(tmp_path: Path) -> None:
    plan, recorder = cascade(tmp_path, [[GOOD], [BAD]], [3, 1])
    assert plan.next_action("goal", looked(3), 27).action == "List Files"
    assert recorder.models_called() == ["scripted:cheap", "scripted:mid"]
    assert recorder.escalations[0][2].startswith("repeat: List Files")
    assert len(recorder.failures) == 1 and plan.lifelines.used == 1


def test_a_step_with_no_usable_reply_at_any_level_fails_the_run(tmp_path: Path) -> None:
    plan, _ = cascade(tmp_path, [[BAD], [BAD]], [1, 1])
    with pytest.raises(PlanningFailed, match="1 tries"):
        plan.next_action("goal", looked(3), 27)


def test_the_step_after_a_climb_starts_at_the_cheapest_level(tmp_path: Path) -> None:
    plan, recorder = cascade(tmp_path, [[BAD, GOOD], [GOOD]], [1, 1])
    plan.next_action("goal", [], 30)
    plan.next_action("goal", [], 29)
    assert recorder.models_called() == ["scripted:cheap", "scripted:mid", "scripted:cheap"]


def test_lifelines_are_shared_by_the_expert_and_top_level_calls(
    tmp_path: Path, context: ActionContext
) -> None:
    plan, recorder = cascade(tmp_path, [[BAD, BAD], [GOOD]], [1, 1], lifelines=2)
    expert_model = scripted(tmp_path, "expert", ["Use Read File next."], agent="expert")
    action = expert_action(
        expert_model, 500, 0.2, plan.lifelines, recorder, lambda: plan.last_prompt
    )
    plan.actions = (*ACTIONS, action)
    assert EXPERT_ACTION in plan.prompt("goal", [], 30)
    plan.next_action("goal", [], 30)  # cheap fails, the top answers: one lifeline
    advice = execute(action, context, {"stuck_on": "the loop"}, 5_000)
    assert "Use Read File next." in advice and "0 lifeline(s) left" in advice
    assert plan.lifelines.remaining == 0
    assert EXPERT_ACTION not in plan.prompt("goal", [], 29)
    refused = execute(action, context, {"stuck_on": "again"}, 5_000)
    assert refused.startswith("Error: no lifelines left")
    with pytest.raises(PlanningFailed):
        plan.next_action("goal", [], 28)  # cheap fails and the top is out of reach
    assert recorder.models_called() == [
        "scripted:cheap",
        "scripted:mid",
        "scripted:expert",
        "scripted:cheap",
    ]


def test_the_expert_sees_the_planners_whole_context(tmp_path: Path, context: ActionContext) -> None:
    plan, recorder = cascade(tmp_path, [[GOOD]], [1])
    expert_model = scripted(tmp_path, "expert", ["advice"], agent="expert")
    action = expert_action(
        expert_model, 500, 0.2, plan.lifelines, recorder, lambda: plan.last_prompt
    )
    plan.next_action("The research problem text.", [], 30)
    execute(action, context, {"stuck_on": "tuning lr"}, 5_000)
    agent, _, messages = recorder.calls[-1]
    assert agent == "expert"
    assert messages[0].content.startswith("You are an expert in planning")
    assert plan.last_prompt in messages[1].content and "tuning lr" in messages[1].content


EDIT = answer("Write File", {"file_name": "train.py", "content": "vague"})
PRECISE = answer("Write File", {"file_name": "train.py", "content": "use sex and a forest"})


def test_a_decisive_action_is_written_by_the_level_above(tmp_path: Path) -> None:
    plan, recorder = cascade(tmp_path, [[EDIT], [PRECISE]], [3, 1], lifelines=2)
    plan.cascade.climb_for = frozenset({"Write File"})
    reply = plan.next_action("goal", [], 30)
    assert reply.action_input["content"] == "use sex and a forest"
    assert recorder.escalations[0][2] == "decisive: Write File"
    assert plan.lifelines.used == 1


def test_with_no_lifeline_left_the_cheap_models_decisive_step_stands(tmp_path: Path) -> None:
    plan, recorder = cascade(tmp_path, [[EDIT], [PRECISE]], [3, 1], lifelines=0)
    plan.cascade.climb_for = frozenset({"Write File"})
    assert plan.next_action("goal", [], 30).action_input["content"] == "vague"
    assert not recorder.escalations
