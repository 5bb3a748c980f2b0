"""The planner's prompt and retries, with scripted models (fixed replies, not LLMs)."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from budgetml.agents.cascade import Level, PlanningFailed
from budgetml.agents.history import CLEAN_RUN, Step
from budgetml.agents.parser import PlannerReply, parse_reply
from budgetml.agents.planner import Planner
from budgetml.agents.prompting import PLANNER_PROFILE, PromptRenderer
from budgetml.env.actions import ACTIONS, inspect_lines
from budgetml.errors import ContextOverflowError
from budgetml.llm.base import Completion, Message, ModelWrapper, ReplyFormat
from budgetml.llm.scripted import ScriptedModel
from tests.agents.scripted_team import BAD, GOOD, Recorder, make_planner, scripted


def planner(tmp_path: Path, replies: list[str], retries: int = 3) -> tuple[Planner, Recorder]:
    recorder = Recorder()
    level = Level(scripted(tmp_path, "cheap", replies), retries, 500)
    return make_planner((level,), recorder), recorder


def step(number: int) -> Step:
    thought = f"step {number} marker"
    reply = PlannerReply(
        "List Files", {"dir_path": "."}, {"Thought": thought}, f"Thought: {thought}"
    )
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
        assert label in text
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


def test_shown_steps_are_turns_of_reply_and_observation(tmp_path: Path) -> None:
    plan, _ = planner(tmp_path, [GOOD])
    messages = plan.conversation("Make it faster.", [step(n) for n in range(1, 6)], 25, "lr=0.1")
    assert [m.role for m in messages] == ["system", "user", *["assistant", "user"] * 3]
    assert "Make it faster." in messages[1].content and "marker" not in messages[1].content
    assert [m.content for m in messages[2::2]] == [
        f'Thought: step {n} marker\nAction: List Files\nAction Input: {{"dir_path": "."}}'
        for n in (3, 4, 5)
    ]
    assert messages[3].content == "Observation:\n```\nobservation 3 marker\n```"
    last = messages[-1].content
    assert last.startswith("Observation:\n```\nobservation 5 marker\n```")
    assert "Relevant notes from your research log:\nlr=0.1" in last
    assert "2 earlier step(s) are no longer shown" in last
    assert "You have 25 step(s) left" in last


def test_earlier_replies_are_shown_as_the_format_asks_not_as_written(tmp_path: Path) -> None:
    """A small model continues the drift it sees in its own replies (traces: a key repeated a
    little more at every step, an echoed instruction line)."""
    drifted = (
        "**Thought:** run it\nAction: Execute Script\n"
        'Action Input: {"script_name": "train.py", "script_name": "train.py"}\n\n'
        "You have 8 step(s) left. Answer with the six labels"
    )
    reply = parse_reply(drifted, {"Execute Script": ["script_name"]})
    plan, _ = planner(tmp_path, [GOOD])
    messages = plan.conversation("goal", [Step(1, reply, "ran")], 7)
    assert messages[2] == Message(
        "assistant",
        'Thought: run it\nAction: Execute Script\nAction Input: {"script_name": "train.py"}',
    )


def test_the_instructions_are_one_fixed_prefix_whatever_the_history(tmp_path: Path) -> None:
    plan, _ = planner(tmp_path, [GOOD])
    later = plan.conversation("goal", [step(1)], 29)[1].content
    much_later = plan.conversation("goal", [step(n) for n in range(1, 9)], 22)[1].content
    assert later == much_later
    first = plan.conversation("goal", [], 30)
    assert len(first) == 2 and "You have 30 step(s) left" in first[1].content


def test_the_transcript_style_sends_the_flat_prompt(tmp_path: Path) -> None:
    plan, _ = planner(tmp_path, [GOOD])
    plan.renderer = PromptRenderer(plan.actions, "transcript")
    history = [step(n) for n in range(1, 3)]
    messages = plan.conversation("goal", history, 28)
    assert messages[1:] == [Message("user", plan.prompt("goal", history, 28))]


def test_a_good_reply_is_parsed_on_the_first_try(tmp_path: Path) -> None:
    plan, recorder = planner(tmp_path, [GOOD])
    reply = plan.next_action("goal", [], 30)
    assert (reply.action, reply.action_input) == ("List Files", {"dir_path": "."})
    assert recorder.calls[0][2][0] == Message("system", PLANNER_PROFILE)
    assert not recorder.failures


def test_a_retry_shows_only_the_ends_of_an_enormous_unusable_reply(tmp_path: Path) -> None:
    runaway = "Thought: I will run the script. " + "Let me think again. " * 2000
    plan, recorder = planner(tmp_path, [runaway, GOOD])
    assert plan.next_action("goal", [], 30).action == "List Files"
    echoed = recorder.calls[1][2][-2]
    assert echoed.role == "assistant" and len(echoed.content) < 2_200
    assert echoed.content.startswith("Thought: I will run the script.")


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


class SmallContext:
    """A scripted model (fixed replies) that refuses prompts over `limit` characters, as a
    model with a small context window refuses too many tokens."""

    def __init__(self, model: ScriptedModel, limit: int) -> None:
        self.name, self.price, self._model, self._limit = model.name, model.price, model, limit

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return self._model.count_tokens(messages)

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        if sum(len(m.content) for m in messages) > self._limit:
            raise ContextOverflowError(f"{self.name}: the prompt does not fit")
        return self._model.complete(
            messages, agent=agent, temperature=temperature, max_tokens=max_tokens
        )


def long_step(number: int) -> Step:
    reply = PlannerReply("List Files", {"dir_path": f"d{number}"}, {}, "Action: List Files")
    return Step(number, reply, f"observation {number} " + "x" * 3000)


def small_context_planner(tmp_path: Path, limit: int) -> tuple[Planner, Recorder]:
    recorder = Recorder()
    model = SmallContext(scripted(tmp_path, "small", [GOOD]), limit)
    level = Level(model, 3, 500)
    return make_planner((level,), recorder), recorder


def test_a_prompt_too_long_for_the_model_drops_the_oldest_shown_steps(tmp_path: Path) -> None:
    plan, recorder = small_context_planner(tmp_path, limit=9_000)
    history = [long_step(n) for n in range(1, 6)]
    assert plan.next_action("goal", history, 25).action == "List Files"
    assert recorder.trims == [("scripted:small", 2), ("scripted:small", 1)]
    ((_, _, sent),) = recorder.calls
    assert "observation 5 " in sent[-1].content and "observation 4 " not in str(sent)
    assert "4 earlier step(s) are no longer shown" in sent[-1].content
    assert "4 earlier step(s) are not shown" in plan.last_prompt  # what an expert would see


def test_a_prompt_that_fits_with_no_step_shown_ends_the_planning(tmp_path: Path) -> None:
    plan, recorder = small_context_planner(tmp_path, limit=1_000)
    with pytest.raises(ContextOverflowError):
        plan.next_action("goal", [long_step(n) for n in range(1, 3)], 28)
    assert [shown for _, shown in recorder.trims] == [1, 0] and not recorder.calls


def test_an_action_that_just_failed_with_nothing_changed_is_asked_again(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    copy = {"source": "train.py", "destination": "backup/"}
    failed = Step(1, PlannerReply("Copy File", copy, {}, ""), "Error: backup is not a folder")
    again = f"Action: Copy File\nAction Input: {json.dumps(copy)}"
    recorder = Recorder()
    level = Level(scripted(tmp_path, "cheap", [again, GOOD]), 3, 500)
    plan = make_planner((level,), recorder, skip_known_results=True, workspace=tmp_path)
    assert plan.next_action("goal", [failed], 29).action == "List Files"
    ((_, _, problem),) = recorder.failures
    assert "gave an error or changed nothing at step 1, and nothing has changed since" in problem


@dataclass
class FormatsSeen(ModelWrapper):
    """Passes calls through, keeping the reply format each one was sent."""

    formats: list[ReplyFormat | None] = field(default_factory=list)

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        self.formats.append(reply_format)
        return self.inner.complete(
            messages, agent=agent, temperature=temperature, max_tokens=max_tokens
        )


@pytest.mark.parametrize("refused", ["a known result", "an existing destination"])
def test_the_try_after_a_refused_choice_is_not_offered_that_action(
    refused: str, tmp_path: Path
) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    copy = {"source": "train.py", "destination": "backup/"}
    failed = Step(1, PlannerReply("Copy File", copy, {}, ""), "Error: backup is not a folder")
    history = [failed]
    if refused == "an existing destination":
        copy, history = {"source": "train.py", "destination": "train.py"}, []
    again = f"Action: Copy File\nAction Input: {json.dumps(copy)}"
    model = FormatsSeen(scripted(tmp_path, "cheap", [again, GOOD]))
    plan = make_planner((Level(model, 3, 500),), Recorder(), skip_known_results=True,
                        workspace=tmp_path)  # fmt: skip
    assert plan.next_action("goal", history, 29).action == "List Files"
    first, second = (str(f.json_schema) if f else "" for f in model.formats)
    assert "Copy File" in first and "Copy File" not in second and "List Files" in second


def test_lines_shown_with_nothing_changed_since_are_not_shown_again(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    lines = {"script_name": "train.py", "start_line_number": 34, "end_line_number": 34}
    shown = Step(1, PlannerReply("Inspect Script Lines", lines, {}, ""), "Here are the lines")
    again = f"Action: Inspect Script Lines\nAction Input: {json.dumps(lines)}"
    recorder = Recorder()
    level = Level(scripted(tmp_path, "cheap", [again, GOOD]), 3, 500)
    plan = make_planner((level,), recorder, skip_known_results=True, workspace=tmp_path)
    assert plan.next_action("goal", [shown], 29).action == "List Files"
    ((_, _, problem),) = recorder.failures
    assert "showed these lines at step 1, and nothing has changed since" in problem


@pytest.mark.parametrize("changed", [False, True])
def test_lines_shown_as_the_file_holds_them_now_are_not_shown_again_after_a_run(
    changed: bool, tmp_path: Path
) -> None:
    script = tmp_path / "train.py"
    script.write_text("print(1)\n")
    lines = {"script_name": "train.py", "start_line_number": 1, "end_line_number": 5}
    seen = inspect_lines(script, lines)  # what Inspect Script Lines showed at step 1
    history = [
        Step(1, PlannerReply("Inspect Script Lines", lines, {}, ""), seen),
        Step(2, PlannerReply("Execute Script", {"script_name": "train.py"}, {}, ""), CLEAN_RUN),
    ]
    if changed:
        script.write_text("print(2)\n")
    again = f"Action: Inspect Script Lines\nAction Input: {json.dumps(lines)}"
    recorder = Recorder()
    level = Level(scripted(tmp_path, "cheap", [again, GOOD]), 3, 500)
    plan = make_planner((level,), recorder, skip_known_results=True, workspace=tmp_path)
    chosen = plan.next_action("goal", history, 28).action
    assert chosen == ("Inspect Script Lines" if changed else "List Files")
    assert bool(recorder.failures) is not changed


def test_a_copy_to_a_name_with_spaces_is_asked_again(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    copy = {"source": "train.py", "destination": "data_description.txt submission.csv"}
    recorder = Recorder()
    bad = f"Action: Copy File\nAction Input: {json.dumps(copy)}"
    level = Level(scripted(tmp_path, "cheap", [bad, GOOD]), 3, 500)
    plan = make_planner((level,), recorder, skip_known_results=True, workspace=tmp_path)
    assert plan.next_action("goal", [], 29).action == "List Files"
    ((_, _, problem),) = recorder.failures
    assert "destination must be one file path" in problem


def test_refusals_of_new_actions_cost_a_one_try_level_no_try(tmp_path: Path) -> None:
    """Fine-food budget at b4dfcae: the 1.5B top level (one try) chose two actions whose
    results were known, and the run ended in error at step 10 of 30."""
    (tmp_path / "train.py").write_text("print(1)\n")
    lines = {"script_name": "train.py", "start_line_number": 1, "end_line_number": 1}
    shown = Step(1, PlannerReply("Inspect Script Lines", lines, {}, ""), "Here are the lines")
    copy = {"source": "train.py", "destination": "train.py"}  # an existing file: refused
    refusals = [
        f"Action: Copy File\nAction Input: {json.dumps(copy)}",
        f"Action: Inspect Script Lines\nAction Input: {json.dumps(lines)}",
    ]
    recorder = Recorder()
    level = Level(scripted(tmp_path, "top", [*refusals, GOOD]), 1, 500)
    plan = make_planner((level,), recorder, skip_known_results=True, workspace=tmp_path)
    assert plan.next_action("goal", [shown], 29).action == "List Files"
    assert [attempt for _, attempt, _ in recorder.failures] == [1, 2]


def test_a_refused_action_sent_again_costs_a_try(tmp_path: Path) -> None:
    """Only striking a new action is free, so a model that insists still runs out of tries."""
    (tmp_path / "train.py").write_text("print(1)\n")
    copy = {"source": "train.py", "destination": "train.py"}
    refused = f"Action: Copy File\nAction Input: {json.dumps(copy)}"
    level = Level(scripted(tmp_path, "top", [refused] * 5), 2, 500)
    plan = make_planner((level,), Recorder(), skip_known_results=True, workspace=tmp_path)
    with pytest.raises(PlanningFailed, match="in 3 tries"):
        plan.next_action("goal", [], 29)


def test_a_level_with_one_try_gets_one_more_after_a_refused_choice(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    copy = {"source": "train.py", "destination": "train.py"}  # an existing file: refused
    refused = f"Action: Copy File\nAction Input: {json.dumps(copy)}"
    recorder = Recorder()
    level = Level(scripted(tmp_path, "top", [refused, GOOD]), 1, 500)
    plan = make_planner((level,), recorder, skip_known_results=True, workspace=tmp_path)
    assert plan.next_action("goal", [], 29).action == "List Files"
    assert len(recorder.failures) == 1  # one more try, not offered Copy File: it answered


def test_the_extra_try_after_a_refusal_is_one_only(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    refused = 'Action: Copy File\nAction Input: {"source": "train.py", "destination": "train.py"}'
    level = Level(scripted(tmp_path, "top", [refused, "no action at all", GOOD]), 1, 500)
    plan = make_planner((level,), Recorder(), skip_known_results=True, workspace=tmp_path)
    with pytest.raises(PlanningFailed, match="in 2 tries"):
        plan.next_action("goal", [], 29)
