"""The LLM-backed worker actions, with fixed-reply stand-ins (not LLMs) for the worker model."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from budgetml.agents import workers
from budgetml.agents.history import SAME_CODE, Step, changed_files
from budgetml.agents.llm_worker import LLMWorker
from budgetml.agents.memory import REFLECTION_PROFILE, ResearchLog, summarise_step
from budgetml.agents.parser import PlannerReply
from budgetml.agents.workers import EDIT_PROFILE, UNDERSTAND_PROFILE, worker_actions
from budgetml.config import Price
from budgetml.env.actions import ACTIONS, Action, ActionContext, execute
from budgetml.llm.base import Completion, Message, ReplyFormat, Usage
from budgetml.llm.scripted import ScriptedModel

UNDO = next(a for a in ACTIONS if a.name == "Undo Edit Script")
PROBLEM = "Make train.py faster."


class Recorder:
    """Collects what the workers report, like the run's trace does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Message]]] = []

    def llm_call(self, agent: str, messages: Sequence[Message], completion: Completion) -> None:
        self.calls.append((agent, list(messages)))

    def format_failure(self, model: str, attempt: int, error: str) -> None: ...

    def escalation(self, from_model: str, to_model: str, reason: str) -> None: ...

    def context_trimmed(self, model: str, shown_steps: int) -> None: ...

    @property
    def prompts(self) -> list[str]:
        return [messages[1].content for _, messages in self.calls]


class FixedReplyModel:
    """A fixed-reply stand-in, not an LLM: returns the same text and records how it was asked."""

    name = "fixed-reply"
    price = Price(input=0, output=0)

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.asked: list[tuple[str, float, int, list[Message]]] = []

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        self.asked.append((agent, temperature, max_tokens, list(messages)))
        return Completion(self.reply, self.name, Usage(1, 1), 0.0, 0.0)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return 1


def scripted(
    tmp_path: Path, replies: list[str], max_tokens: int = 2000
) -> tuple[LLMWorker, Recorder]:
    """A worker on a scripted model (fixed replies, not an LLM); an empty list fails if asked."""
    script = tmp_path / "worker-script.json"
    script.write_text(json.dumps({"worker": replies}))
    model = ScriptedModel(f"scripted:{script}", script, Price(input=0, output=0))
    recorder = Recorder()
    return LLMWorker(model, max_tokens, 0.01, recorder), recorder


def actions(worker: LLMWorker, tmp_path: Path, retrieval: bool = True) -> dict[str, Action]:
    log = ResearchLog(tmp_path / "run" / "research_log.md")
    return {a.name: a for a in worker_actions(worker, log, PROBLEM, retrieval)}


def act(
    worker: LLMWorker, context: ActionContext, tmp_path: Path, name: str, **args: object
) -> str:
    return execute(actions(worker, tmp_path)[name], context, args, 100_000)


def read(context: ActionContext, name: str) -> str:
    return (context.workspace.root / name).read_text()


# --- the worker and the action set -------------------------------------------------------------


def test_ask_sends_the_profile_at_the_worker_temperature_and_reports_the_call() -> None:
    model, recorder = FixedReplyModel("fine"), Recorder()
    assert LLMWorker(model, 321, 0.01, recorder).ask(EDIT_PROFILE, "do it") == "fine"
    messages = [Message("system", EDIT_PROFILE), Message("user", "do it")]
    assert model.asked == [("worker", 0.01, 321, messages)]
    assert recorder.calls == [("worker", messages)]


def test_profiles_are_the_papers() -> None:
    assert UNDERSTAND_PROFILE == (
        "You are an expert in understanding files containing both code and natural language."
    )
    assert EDIT_PROFILE == "You are an expert in editing code files."
    assert REFLECTION_PROFILE == (
        "You are an expert in reflecting on previous actions when solving a machine learning task."
    )


def test_every_worker_call_uses_temperature_0_01_and_its_roles_profile(
    context: ActionContext, tmp_path: Path
) -> None:
    model = FixedReplyModel("```python\nprint('hi')\n```")
    worker = LLMWorker(model, 2000, 0.01, Recorder())
    log = ResearchLog(tmp_path / "run" / "research_log.md")
    by_name = {a.name: a for a in worker_actions(worker, log, PROBLEM, retrieval=True)}
    calls = {
        "Understand File": {"file_name": "train.py", "things_to_look_for": "prints"},
        "Edit Script (AI)": {
            "script_name": "train.py",
            "edit_instruction": "x",
            "save_name": "a.py",
        },
        "Edit Script Segment (AI)": {
            "script_name": "train.py",
            "start_line_number": 1,
            "end_line_number": 1,
            "edit_instruction": "x",
            "save_name": "b.py",
        },
        "Reflection": {"things_to_reflect_on": "progress"},
        "Append Summary to Research Log": {"content": "baseline 2.0 s"},
        "Retrieval from Research Log": {"current_plan": "vectorise"},
    }
    for name, args in calls.items():
        assert not execute(by_name[name], context, args, 10_000).startswith("Error")
    summarise_step(worker, log, 1, "List Files", {"dir_path": "."}, "train.py")
    profiles = [messages[0] for _, _, _, messages in model.asked]
    assert profiles == [
        Message("system", p)
        for p in (UNDERSTAND_PROFILE, EDIT_PROFILE, EDIT_PROFILE, REFLECTION_PROFILE)
        + (REFLECTION_PROFILE,) * 2  # retrieval and the step summary reflect on past steps
    ]
    assert {(agent, temperature) for agent, temperature, _, _ in model.asked} == {("worker", 0.01)}


def test_names_and_inputs_match_mlagentbench_and_retrieval_off_drops_the_log_actions(
    tmp_path: Path,
) -> None:
    worker, _ = scripted(tmp_path, [])
    expected = {
        "Understand File": ("file_name", "things_to_look_for"),
        "Edit Script (AI)": ("script_name", "edit_instruction", "save_name"),
        "Edit Script Segment (AI)": (
            "script_name",
            "start_line_number",
            "end_line_number",
            "edit_instruction",
            "save_name",
        ),
        "Reflection": ("things_to_reflect_on",),
    }
    without = actions(worker, tmp_path, retrieval=False)
    assert {name: a.input_names for name, a in without.items()} == expected
    with_log = actions(worker, tmp_path, retrieval=True)
    assert {name: a.input_names for name, a in with_log.items()} == {
        **expected,
        "Append Summary to Research Log": ("content",),
        "Retrieval from Research Log": ("current_plan",),
    }
    assert all(a.description and a.observation for a in with_log.values())


# --- Understand File ---------------------------------------------------------------------------


def test_understand_file_asks_once_for_a_short_file(context: ActionContext, tmp_path: Path) -> None:
    worker, recorder = scripted(tmp_path, ["  It prints hello (line 1).  "])
    observation = act(
        worker,
        context,
        tmp_path,
        "Understand File",
        file_name="train.py",
        things_to_look_for="output",
    )
    assert observation == "It prints hello (line 1)."
    assert len(recorder.prompts) == 1
    assert "print('hello')" in recorder.prompts[0] and "output" in recorder.prompts[0]


def test_understand_file_reads_a_long_file_in_parts_then_combines(
    context: ActionContext, tmp_path: Path
) -> None:
    line = "x = '" + "a" * 53 + "'"  # 59 characters + newline: 100 lines fill a 6,000 part
    (context.workspace.root / "long.py").write_text(f"{line}\n" * 400)
    worker, recorder = scripted(tmp_path, ["p1", "p2", "p3", "p4", "the whole file"])
    observation = act(
        worker, context, tmp_path, "Understand File", file_name="long.py", things_to_look_for="x"
    )
    assert observation == "the whole file"
    parts, combine = recorder.prompts[:4], recorder.prompts[4]
    for index, (prompt, first) in enumerate(zip(parts, (1, 101, 201, 301), strict=True), 1):
        assert (
            f"part {index} of 4 of the file long.py: lines {first} to {first + 99} of 400" in prompt
        )
        assert len(prompt) < workers.CHUNK_CHARS + 1_000
    assert all(f"Part {i} (lines" in combine and f"p{i}" in combine for i in range(1, 5))


def test_understand_file_reads_at_most_max_chunks_parts_and_says_so(
    context: ActionContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "MAX_CHUNKS", 2)
    line = "x = '" + "a" * 53 + "'"
    (context.workspace.root / "long.py").write_text(f"{line}\n" * 400)
    worker, recorder = scripted(tmp_path, ["p1", "p2", "both"])
    observation = act(
        worker, context, tmp_path, "Understand File", file_name="long.py", things_to_look_for="x"
    )
    assert len(recorder.calls) == 3
    assert observation.startswith("both") and "Only lines 1 to 200 of 400 were read" in observation


def test_understand_file_cuts_one_very_long_line_into_pieces(
    context: ActionContext, tmp_path: Path
) -> None:
    (context.workspace.root / "one.json").write_text("[" + "1," * 6_500 + "1]")  # 13,002 chars
    worker, recorder = scripted(tmp_path, ["a", "b", "c", "abc"])
    act(worker, context, tmp_path, "Understand File", file_name="one.json", things_to_look_for="n")
    assert len(recorder.calls) == 4
    assert all("lines 1 to 1 of 1" in prompt for prompt in recorder.prompts[:3])


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.py", None, "Error: missing.py is not a file"),
        ("blob.bin", b"\x00\x01" * 50, "Error: blob.bin is a binary file of 100 bytes"),
        ("empty.txt", b"", "empty.txt is empty."),
    ],
)
def test_understand_file_without_readable_text_makes_no_call(
    context: ActionContext, tmp_path: Path, name: str, content: bytes | None, expected: str
) -> None:
    if content is not None:
        (context.workspace.root / name).write_bytes(content)
    worker, recorder = scripted(tmp_path, [])
    observation = act(
        worker, context, tmp_path, "Understand File", file_name=name, things_to_look_for="x"
    )
    assert observation.startswith(expected)
    assert not recorder.calls


# --- Edit Script (AI) --------------------------------------------------------------------------


def edit(worker: LLMWorker, context: ActionContext, tmp_path: Path, **args: object) -> str:
    defaults: dict[str, object] = {"script_name": "train.py", "edit_instruction": "greet the world"}
    return act(worker, context, tmp_path, "Edit Script (AI)", **{**defaults, **args})


def test_edit_script_writes_the_code_block_and_shows_the_diff(
    context: ActionContext, tmp_path: Path
) -> None:
    worker, recorder = scripted(tmp_path, ["Sure:\n```python\nprint('hello, world')\n```\nDone."])
    observation = edit(worker, context, tmp_path, save_name="train.py")
    assert observation.startswith(
        "The edited file is saved to train.py. Here is the diff, please check if the edit is "
        "correct and desirable:"
    )
    assert "--- train.py\n+++ train.py" in observation
    assert "-print('hello')\n+print('hello, world')" in observation
    assert read(context, "train.py") == "print('hello, world')\n"
    assert "print('hello')" in recorder.prompts[0] and "greet the world" in recorder.prompts[0]


def test_edit_script_takes_the_last_block_even_without_a_language_tag(
    context: ActionContext, tmp_path: Path
) -> None:
    reply = "First try:\n```\nwrong = 1\n```\nBetter:\n```\nright = 2\n```"
    worker, _ = scripted(tmp_path, [reply])
    edit(worker, context, tmp_path, save_name="train.py")
    assert read(context, "train.py") == "right = 2\n"


def test_edit_script_to_another_file_keeps_the_original(
    context: ActionContext, tmp_path: Path
) -> None:
    worker, _ = scripted(tmp_path, ["```python\nprint('v2')\n```"])
    observation = edit(worker, context, tmp_path, save_name="train_v2.py")
    assert "--- train.py\n+++ train_v2.py" in observation
    assert read(context, "train.py") == "print('hello')\n"
    assert read(context, "train_v2.py") == "print('v2')\n"


def test_edit_script_creates_a_new_file_and_undo_removes_it(
    context: ActionContext, tmp_path: Path
) -> None:
    worker, recorder = scripted(tmp_path, ["```python\nimport numpy\n```"])
    observation = edit(worker, context, tmp_path, script_name="new.py", save_name="new.py")
    assert "does not exist yet" in recorder.prompts[0]
    assert "+import numpy" in observation and read(context, "new.py") == "import numpy\n"
    assert "did not exist" in execute(UNDO, context, {"script_name": "new.py"}, 10_000)
    assert not (context.workspace.root / "new.py").exists()


def test_undo_restores_the_file_after_an_ai_edit(context: ActionContext, tmp_path: Path) -> None:
    worker, _ = scripted(tmp_path, ["```python\nprint('changed')\n```"])
    edit(worker, context, tmp_path, save_name="train.py")
    execute(UNDO, context, {"script_name": "train.py"}, 10_000)
    assert read(context, "train.py") == "print('hello')\n"


def test_an_edit_of_layout_or_comments_only_is_not_saved_and_says_it_changed_nothing(
    context: ActionContext, tmp_path: Path
) -> None:
    layout = "```python\n# greet\n\nprint( 'hello' )\n```"
    worker, _ = scripted(tmp_path, [layout])
    paper = {a.name: a for a in worker_actions(worker, ResearchLog(tmp_path / "log.md"), "", False)}
    args = {"script_name": "train.py", "edit_instruction": "x", "save_name": "train.py"}
    assert execute(paper["Edit Script (AI)"], context, args, 10_000).startswith("The edited file")
    execute(UNDO, context, {"script_name": "train.py"}, 10_000)  # the paper's: saved, undoable
    worker, _ = scripted(tmp_path, [layout])
    log = ResearchLog(tmp_path / "log.md")
    skipping = {a.name: a for a in worker_actions(worker, log, "", False, skip_same_code=True)}
    observation = execute(skipping["Edit Script (AI)"], context, args, 10_000)
    assert SAME_CODE in observation and not observation.startswith("The edited file is saved")
    assert read(context, "train.py") == "print('hello')\n"
    undo = execute(UNDO, context, {"script_name": "train.py"}, 10_000)
    assert "no change to train.py left to undo" in undo
    step = Step(1, PlannerReply("Edit Script (AI)", {"save_name": "train.py"}, {}, ""), observation)
    assert not changed_files(step)


def test_an_edit_that_changes_a_value_is_saved(context: ActionContext, tmp_path: Path) -> None:
    worker, _ = scripted(tmp_path, ["```python\n# greet\nprint('hello!')\n```"])
    assert edit(worker, context, tmp_path, save_name="train.py").startswith("The edited file")
    assert read(context, "train.py") == "# greet\nprint('hello!')\n"


@pytest.mark.parametrize(
    "reply", ["I would vectorise the loop.", "```python\nprint('cut off by the token lim"]
)
def test_edit_script_without_a_complete_code_block_changes_nothing(
    context: ActionContext, tmp_path: Path, reply: str
) -> None:
    worker, _ = scripted(tmp_path, [reply])
    observation = edit(worker, context, tmp_path, save_name="train.py")
    assert observation.startswith("Error: the edit produced no code")
    assert read(context, "train.py") == "print('hello')\n"
    undo = execute(UNDO, context, {"script_name": "train.py"}, 10_000)
    assert "no change to train.py left to undo" in undo


def test_edit_script_refuses_a_read_only_target_before_asking(
    context: ActionContext, tmp_path: Path
) -> None:
    worker, recorder = scripted(tmp_path, [])
    observation = edit(worker, context, tmp_path, script_name="data.csv", save_name="data.csv")
    assert observation.startswith("Error:") and "read-only" in observation
    assert not recorder.calls and read(context, "data.csv") == "a,b\n1,2\n"


def test_edit_script_refuses_a_file_too_long_to_come_back(
    context: ActionContext, tmp_path: Path
) -> None:
    worker, recorder = scripted(tmp_path, [], max_tokens=3)  # about 12 characters of reply
    observation = edit(worker, context, tmp_path, save_name="train.py")
    assert "too long for the editor" in observation and "Edit Script Segment (AI)" in observation
    assert not recorder.calls


def test_edit_script_refuses_paths_outside_the_workspace(
    context: ActionContext, tmp_path: Path
) -> None:
    worker, recorder = scripted(tmp_path, [])
    assert "outside the workspace" in edit(worker, context, tmp_path, save_name="../evil.py")
    assert not recorder.calls


# --- Edit Script Segment (AI) ------------------------------------------------------------------


def segment(
    worker: LLMWorker, context: ActionContext, tmp_path: Path, start: object, end: object
) -> str:
    return act(
        worker,
        context,
        tmp_path,
        "Edit Script Segment (AI)",
        script_name="ten.py",
        start_line_number=start,
        end_line_number=end,
        edit_instruction="rename",
        save_name="ten.py",
    )


@pytest.fixture
def ten_lines(context: ActionContext) -> str:
    text = "".join(f"line{n}\n" for n in range(1, 11))
    (context.workspace.root / "ten.py").write_text(text)
    return text


def test_edit_segment_changes_only_the_range(
    context: ActionContext, tmp_path: Path, ten_lines: str
) -> None:
    worker, recorder = scripted(tmp_path, ["```python\nNEW4\nNEW5\n```"])
    observation = segment(worker, context, tmp_path, "4", 6)
    lines = ten_lines.splitlines(keepends=True)
    assert read(context, "ten.py") == "".join([*lines[:3], "NEW4\n", "NEW5\n", *lines[6:]])
    assert "-line4\n-line5\n-line6\n+NEW4\n+NEW5" in observation
    prompt = recorder.prompts[0]
    assert "line4\nline5\nline6" in prompt and "lines 4 to 6" in prompt
    assert "line3" not in prompt and "line7" not in prompt


def test_edit_segment_end_past_the_file_stops_at_its_last_line(
    context: ActionContext, tmp_path: Path, ten_lines: str
) -> None:
    worker, _ = scripted(tmp_path, ["```python\nLAST\n```"])
    segment(worker, context, tmp_path, 9, 50)
    assert read(context, "ten.py").endswith("line8\nLAST\n")


def test_edit_segment_with_an_empty_block_deletes_the_range(
    context: ActionContext, tmp_path: Path, ten_lines: str
) -> None:
    worker, _ = scripted(tmp_path, ["Remove them:\n```python\n```"])
    segment(worker, context, tmp_path, 2, 9)
    assert read(context, "ten.py") == "line1\nline10\n"


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("four", 6, "start_line_number must be a whole number"),
        (0, 6, "start_line_number must be 1 or more"),
        (4, 2.5, "end_line_number must be a whole number"),
        (6, 4, "end_line_number is before start_line_number"),
        (11, 12, "ten.py has 10 line(s); start_line_number is past its end"),
    ],
)
def test_edit_segment_refuses_bad_line_numbers_without_a_call(
    context: ActionContext,
    tmp_path: Path,
    ten_lines: str,
    start: object,
    end: object,
    message: str,
) -> None:
    worker, recorder = scripted(tmp_path, [])
    assert segment(worker, context, tmp_path, start, end).startswith(f"Error: {message}")
    assert not recorder.calls and read(context, "ten.py") == ten_lines


def test_edit_segment_of_a_missing_file_is_refused(context: ActionContext, tmp_path: Path) -> None:
    worker, recorder = scripted(tmp_path, [])
    assert segment(worker, context, tmp_path, 1, 2).startswith("Error: ten.py is not a file")
    assert not recorder.calls


def test_undo_restores_the_file_after_a_segment_edit(
    context: ActionContext, tmp_path: Path, ten_lines: str
) -> None:
    worker, _ = scripted(tmp_path, ["```python\nNEW\n```"])
    segment(worker, context, tmp_path, 1, 10)
    assert read(context, "ten.py") == "NEW\n"
    execute(UNDO, context, {"script_name": "ten.py"}, 10_000)
    assert read(context, "ten.py") == ten_lines


# --- Reflection and the research-log actions ---------------------------------------------------


def test_reflection_sees_the_problem_the_log_and_the_question(
    context: ActionContext, tmp_path: Path
) -> None:
    worker, recorder = scripted(tmp_path, ["Looping is the bottleneck."])
    by_name = actions(worker, tmp_path)
    execute(by_name["Append Summary to Research Log"], context, {"content": "baseline 2.0 s"}, 999)
    observation = execute(
        by_name["Reflection"], context, {"things_to_reflect_on": "why slow?"}, 999
    )
    assert observation == "Looping is the bottleneck."
    prompt = recorder.prompts[0]
    assert PROBLEM in prompt and "baseline 2.0 s" in prompt and "why slow?" in prompt


def test_reflection_with_an_empty_log_says_so(context: ActionContext, tmp_path: Path) -> None:
    worker, recorder = scripted(tmp_path, ["ok"])
    act(worker, context, tmp_path, "Reflection", things_to_reflect_on="plan")
    assert "research log is empty" in recorder.prompts[0]


def test_append_summary_writes_to_the_log_without_a_call(
    context: ActionContext, tmp_path: Path
) -> None:
    worker, recorder = scripted(tmp_path, [])
    observation = act(
        worker, context, tmp_path, "Append Summary to Research Log", content=" a fact "
    )
    assert observation == "Successfully appended to the research log."
    assert (tmp_path / "run" / "research_log.md").read_text() == "a fact\n"
    empty = act(worker, context, tmp_path, "Append Summary to Research Log", content="  ")
    assert empty.startswith("Error: content is empty") and not recorder.calls


def test_retrieval_action_answers_an_empty_log_without_a_call_then_asks(
    context: ActionContext, tmp_path: Path
) -> None:
    worker, recorder = scripted(tmp_path, ["baseline was 2.0 s"])
    by_name = actions(worker, tmp_path)
    retrieval = by_name["Retrieval from Research Log"]
    assert "research log is empty" in execute(retrieval, context, {"current_plan": "p"}, 999)
    assert not recorder.calls
    execute(by_name["Append Summary to Research Log"], context, {"content": "baseline 2.0 s"}, 999)
    assert execute(retrieval, context, {"current_plan": "p"}, 999) == "baseline was 2.0 s"
    assert len(recorder.calls) == 1


# --- what an editor is told, and code that does not compile ------------------------------------


def test_the_editor_sees_the_problem_the_description_files_and_the_last_failed_run(
    context: ActionContext, tmp_path: Path
) -> None:
    (context.workspace.root / "data_description.txt").write_text("Columns: age, sex, pclass.\n")
    worker, recorder = scripted(tmp_path, ["```python\nprint('fixed')\n```"])
    log = ResearchLog(tmp_path / "run" / "research_log.md")
    failed = "The script failed with exit code 1. Here is the output:\nKeyError: 'fare'"
    runs = {"train.py": failed}
    edit_action = {
        a.name: a for a in worker_actions(worker, log, PROBLEM, False, last_run=runs.get)
    }["Edit Script (AI)"]
    args = {"script_name": "train.py", "edit_instruction": "add fare", "save_name": "train.py"}
    execute(edit_action, context, args, 100_000)
    prompt = recorder.prompts[0]
    assert PROBLEM in prompt
    assert "data_description.txt" in prompt and "Columns: age, sex, pclass." in prompt
    assert "Its last run failed" in prompt and "KeyError: 'fare'" in prompt


def test_the_editor_is_pointed_at_the_line_of_the_script_that_failed(
    context: ActionContext, tmp_path: Path
) -> None:
    (context.workspace.root / "train.py").write_text("import pandas\nx = df['fare']\n")
    worker, recorder = scripted(tmp_path, ["```python\nprint('fixed')\n```"])
    log = ResearchLog(tmp_path / "run" / "research_log.md")
    failed = (
        "The script failed with exit code 1. Here is the output:\nTraceback (most recent call "
        f'last):\n  File "{context.workspace.root}/train.py", line 2, in <module>\n'
        "    x = df['fare']\nKeyError: 'fare'"
    )
    edit_action = {
        a.name: a
        for a in worker_actions(worker, log, PROBLEM, False, last_run={"train.py": failed}.get)
    }["Edit Script (AI)"]
    args = {"script_name": "train.py", "edit_instruction": "fix it", "save_name": "train.py"}
    execute(edit_action, context, args, 100_000)
    assert (
        "It failed at line 2 of train.py: x = df['fare']\nKeyError: 'fare'" in (recorder.prompts[0])
    )


def test_a_clean_last_run_is_not_shown_as_an_error(context: ActionContext, tmp_path: Path) -> None:
    worker, recorder = scripted(tmp_path, ["```python\nprint('v2')\n```"])
    log = ResearchLog(tmp_path / "run" / "research_log.md")
    clean = {"train.py": "The script has been executed. Here is the output:\nok"}
    edit_action = {
        a.name: a for a in worker_actions(worker, log, PROBLEM, False, last_run=clean.get)
    }["Edit Script (AI)"]
    args = {"script_name": "train.py", "edit_instruction": "x", "save_name": "train.py"}
    execute(edit_action, context, args, 100_000)
    assert "last run failed" not in recorder.prompts[0]


def test_code_that_does_not_compile_goes_back_to_the_editor_once(
    context: ActionContext, tmp_path: Path
) -> None:
    broken, fixed = "```python\nprint('x'\n```", "```python\nprint('x')\n```"
    worker, recorder = scripted(tmp_path, [broken, fixed])
    observation = edit(worker, context, tmp_path, save_name="train.py")
    assert read(context, "train.py") == "print('x')\n"
    assert "Warning" not in observation
    follow_up = recorder.calls[1][1]
    assert [m.role for m in follow_up] == ["system", "user", "assistant", "user"]
    assert "does not compile: SyntaxError" in follow_up[-1].content


def test_code_still_broken_after_the_second_try_is_saved_with_a_warning(
    context: ActionContext, tmp_path: Path
) -> None:
    broken = "```python\nprint('x'\n```"
    worker, recorder = scripted(tmp_path, [broken, broken])
    observation = edit(worker, context, tmp_path, save_name="train.py")
    assert len(recorder.calls) == 2  # once back, not more
    assert read(context, "train.py") == "print('x'\n"
    assert "Warning: train.py does not compile: SyntaxError" in observation


def test_code_that_drops_most_of_the_file_is_given_back_then_refused(
    context: ActionContext, tmp_path: Path
) -> None:
    script = "".join(f"x{n} = {n}\n" for n in range(30))
    (context.workspace.root / "train.py").write_text(script)
    worker, recorder = scripted(tmp_path, ["```\nobj['code']\n```", "```\nobj['code']\n```"])
    observation = edit(worker, context, tmp_path, save_name="train.py")
    assert observation.startswith("Error: the edit was refused, twice")
    assert "1 line(s) where the file had 30" in recorder.calls[1][1][-1].content
    assert read(context, "train.py") == script


def test_an_undone_failure_is_still_shown_so_the_same_edit_is_not_made_again(
    context: ActionContext, tmp_path: Path
) -> None:
    worker, recorder = scripted(tmp_path, ["```python\nprint('v3')\n```"])
    log = ResearchLog(tmp_path / "run" / "research_log.md")
    clean = {"train.py": "The script has been executed. Here is the output:\nok"}
    failed = {"train.py": "The script failed with exit code 1.\nValueError: columns overlap"}
    edit_action = {
        a.name: a
        for a in worker_actions(
            worker, log, PROBLEM, False, last_run=clean.get, last_failure=failed.get
        )
    }["Edit Script (AI)"]
    args = {"script_name": "train.py", "edit_instruction": "x", "save_name": "train.py"}
    execute(edit_action, context, args, 100_000)
    assert "An earlier edit of it failed" in recorder.prompts[0]
    assert "columns overlap" in recorder.prompts[0]


def repeat_edit(
    worker: LLMWorker, context: ActionContext, tmp_path: Path, failed_at: int, action: str
) -> str:
    """An edit whose `failed_before` says the same edit failed at step `failed_at` (0: never)."""
    log = ResearchLog(tmp_path / "run" / "research_log.md")
    asked: list[tuple[str, dict[str, object]]] = []

    def failed_before(name: str, args: Mapping[str, object]) -> int:
        asked.append((name, dict(args)))
        return failed_at

    edit_action = {
        a.name: a for a in worker_actions(worker, log, PROBLEM, False, failed_before=failed_before)
    }[action]
    args: dict[str, object] = {"script_name": "train.py", "edit_instruction": "x"}
    if action == "Edit Script Segment (AI)":
        args |= {"start_line_number": 1, "end_line_number": 1}
    observation = execute(edit_action, context, args | {"save_name": "train.py"}, 100_000)
    assert asked == [(action, args | {"save_name": "train.py"})]
    return observation


@pytest.mark.parametrize("action", ["Edit Script (AI)", "Edit Script Segment (AI)"])
@pytest.mark.parametrize("failed_at", [0, 4])
def test_an_edit_that_failed_before_on_this_script_is_sampled_afresh_and_told_so(
    context: ActionContext, tmp_path: Path, action: str, failed_at: int
) -> None:
    """Made before and failed (step 4): at the retry temperature, told which step; never
    made (0): at the worker's temperature, told nothing."""
    (context.workspace.root / "train.py").write_text("print('old')\n")
    model, recorder = FixedReplyModel("```python\nprint('new')\n```"), Recorder()
    worker = LLMWorker(model, 2000, 0.01, recorder)
    repeat_edit(worker, context, tmp_path, failed_at, action)
    temperature = workers.RETRY_TEMPERATURE if failed_at else 0.01
    assert [t for _, t, _, _ in model.asked] == [temperature]
    told = "This very instruction was carried out on this same file at step 4"
    assert (told in recorder.prompts[0]) is bool(failed_at)
    assert ("This very instruction" in recorder.prompts[0]) is bool(failed_at)
    assert read(context, "train.py") == "print('new')\n"


# --- edits that must run (edit_versions) --------------------------------------------------------


def tried_edit(
    worker: LLMWorker,
    context: ActionContext,
    tmp_path: Path,
    versions: int = 3,
    name: str = "train.py",
) -> str:
    log = ResearchLog(tmp_path / "run" / "research_log.md")
    edit_action = {
        a.name: a for a in worker_actions(worker, log, PROBLEM, False, edit_versions=versions)
    }["Edit Script (AI)"]
    args = {"script_name": name, "edit_instruction": "x", "save_name": name}
    return execute(edit_action, context, args, 100_000)


def test_an_edit_that_runs_is_kept_with_its_output(context: ActionContext, tmp_path: Path) -> None:
    (context.workspace.root / "train.py").write_text("print('old')\n")
    worker, recorder = scripted(tmp_path, ["```python\nprint('accuracy 0.9')\n```"])
    observation = tried_edit(worker, context, tmp_path)
    assert read(context, "train.py") == "print('accuracy 0.9')\n"
    assert "train.py was run after the edit and ran without error. Its output:" in observation
    assert observation.rstrip().endswith("accuracy 0.9")
    assert len(recorder.calls) == 1


def test_a_version_that_fails_when_run_goes_back_with_its_error(
    context: ActionContext, tmp_path: Path
) -> None:
    (context.workspace.root / "train.py").write_text("print('old')\n")
    failing = "```python\nimport pandas\nraise KeyError('fare')\n```"
    worker, recorder = scripted(tmp_path, [failing, "```python\nprint('fixed')\n```"])
    observation = tried_edit(worker, context, tmp_path)
    assert read(context, "train.py") == "print('fixed')\n"
    assert "(version 2 of the edit: each before it failed)" in observation
    follow_up = recorder.calls[1][1]
    assert [m.role for m in follow_up] == ["system", "user", "assistant", "user"]
    assert "raise KeyError('fare')" in follow_up[2].content
    assert "KeyError: 'fare'" in follow_up[3].content
    assert "It failed at line 2 of train.py: raise KeyError('fare')" in follow_up[3].content


def test_the_version_after_a_failed_run_is_sampled_at_the_retry_temperature(
    context: ActionContext, tmp_path: Path
) -> None:
    (context.workspace.root / "train.py").write_text("print('old')\n")
    model, recorder = FixedReplyModel("```python\nraise SystemExit(3)\n```"), Recorder()
    worker = LLMWorker(model, 2000, 0.01, recorder)
    tried_edit(worker, context, tmp_path, versions=2)
    assert [temperature for _, temperature, _, _ in model.asked] == [
        0.01,
        workers.RETRY_TEMPERATURE,
    ]


def test_when_no_version_runs_nothing_is_kept_and_undo_has_nothing_new(
    context: ActionContext, tmp_path: Path
) -> None:
    (context.workspace.root / "train.py").write_text("print('old')\n")
    failing = "```python\nraise ValueError('columns overlap')\n```"
    worker, recorder = scripted(tmp_path, [failing, failing, failing])
    observation = tried_edit(worker, context, tmp_path)
    assert observation.startswith(
        "Error: the edit was not kept: train.py failed when run after each of 3 version(s)"
    )
    assert "ValueError: columns overlap" in observation
    assert read(context, "train.py") == "print('old')\n"
    assert len(recorder.calls) == 3
    undone = execute(UNDO, context, {"script_name": "train.py"}, 100_000)
    assert undone.startswith("Error: there is no change to train.py left to undo")


def test_a_new_script_that_never_runs_is_not_left_behind(
    context: ActionContext, tmp_path: Path
) -> None:
    worker, _ = scripted(tmp_path, ["```python\nraise SystemExit(1)\n```"])
    observation = tried_edit(worker, context, tmp_path, versions=1, name="new.py")
    assert observation.startswith("Error: the edit was not kept")
    assert not (context.workspace.root / "new.py").exists()


def test_with_no_versions_an_edit_is_saved_unrun(context: ActionContext, tmp_path: Path) -> None:
    worker, recorder = scripted(tmp_path, ["```python\nraise SystemExit(1)\n```"])
    observation = tried_edit(worker, context, tmp_path, versions=0)
    assert read(context, "train.py") == "raise SystemExit(1)\n"
    assert "was run after the edit" not in observation
