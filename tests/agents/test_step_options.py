"""What a step offers: no action whose result the history holds, file inputs from the workspace,
Final Answer only after a change that ran cleanly."""

import json
from pathlib import Path

import pytest

from budgetml.agents.history import (
    Step,
    describe_step,
    failed_change,
    failed_edit,
    known_error,
    known_lines,
)
from budgetml.agents.parser import PlannerReply
from budgetml.agents.step_guide import guide
from budgetml.agents.step_options import StepOptions, shown_lines, step_options
from budgetml.env.actions import ACTIONS, inspect_lines, listing
from budgetml.env.workspace import NO_CHANGE

CLEAN = "The script has been executed. Here is the output:\nValidation Accuracy: 0.67"
FAILED = "The script failed with exit code 1. Here is the output:\nKeyError: 'fare'"
EDITED = "The edited file is saved to train.py. Here is the diff, please check ..."


def step(number: int, action: str, observation: str = "ok", **inputs: object) -> Step:
    return Step(number, PlannerReply(action, dict(inputs), {}, ""), observation)


def run(number: int, observation: str = CLEAN, script: str = "train.py") -> Step:
    return step(number, "Execute Script", observation, script_name=script)


def edit(number: int, observation: str = EDITED) -> Step:
    return step(
        number,
        "Edit Script (AI)",
        observation,
        script_name="train.py",
        edit_instruction="x",
        save_name="train.py",
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "data_description.txt").write_text("columns\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("a\n1\n")
    return tmp_path


def options(history: list[Step], workspace: Path, skip: bool = True) -> StepOptions:
    return step_options(ACTIONS, history, workspace, skip_known_results=skip)


def choices(opts: StepOptions, action: str, key: str) -> tuple[str, ...] | None:
    offer = opts.offers[opts.names.index(action)]
    return next(s.choices for s in offer.inputs if s.name == key)


def test_file_inputs_are_the_workspace_files(workspace: Path) -> None:
    opts = options([], workspace)
    assert choices(opts, "Execute Script", "script_name") == ("train.py",)
    assert choices(opts, "List Files", "dir_path") == (".", "data")
    assert set(choices(opts, "Read File", "file_name") or ()) == {
        "train.py",
        "data_description.txt",
        "data/train.csv",
    }


def test_an_unchanged_script_is_not_offered_again_and_the_prompt_says_why(
    workspace: Path,
) -> None:
    opts = options([run(1)], workspace)
    assert "Execute Script" not in opts.names  # its only script's result is known
    assert any("Execute Script train.py" in w.what and "step 1" in w.why for w in opts.withheld)


def test_a_change_makes_the_script_runnable_again(workspace: Path) -> None:
    assert "Execute Script" in options([run(1), edit(2)], workspace).names


def test_a_failed_or_empty_edit_is_not_a_change(workspace: Path) -> None:
    refused = edit(2, "Error: the edit produced no code")
    same = edit(2, "The edited file is saved ... (no changes: the content is the same)")
    assert "Execute Script" not in options([run(1), refused], workspace).names
    assert "Execute Script" not in options([run(1), same], workspace).names


def test_a_folder_listed_or_file_read_since_the_last_change_is_not_offered(
    workspace: Path,
) -> None:
    history = [
        step(1, "List Files", listing(workspace), dir_path="."),
        step(2, "Read File", file_name="train.py"),
    ]
    opts = options(history, workspace)
    assert choices(opts, "List Files", "dir_path") == ("data",)
    assert "train.py" not in (choices(opts, "Read File", "file_name") or ())
    after_edit = options([*history, edit(3)], workspace)  # train.py changed, the folder did not
    assert choices(after_edit, "List Files", "dir_path") == ("data",)
    assert "train.py" in (choices(after_edit, "Read File", "file_name") or ())


def test_final_answer_needs_a_change_that_then_ran_cleanly(workspace: Path) -> None:
    assert "Final Answer" not in options([run(1)], workspace).names
    assert "Final Answer" not in options([run(1), edit(2)], workspace).names
    assert "Final Answer" not in options([run(1), edit(2), run(3, FAILED)], workspace).names
    assert "Final Answer" in options([run(1), edit(2), run(3)], workspace).names


def undo(number: int) -> Step:
    return step(
        number, "Undo Edit Script", "Content of train.py after undo", script_name="train.py"
    )


def test_a_script_is_not_run_again_once_the_edits_since_its_run_are_undone(
    workspace: Path,
) -> None:
    history = [run(1), edit(2), run(3), undo(4)]
    opts = options(history, workspace)
    assert "Execute Script" not in opts.names
    assert any("step 1" in w.why for w in opts.withheld if w.what == "Execute Script train.py")
    redone = [run(1), edit(2), run(3), edit(4), undo(5)]  # back to the state step 3 ran
    assert "Execute Script" not in options(redone, workspace).names
    other = [run(1), edit(2), run(3, script="other.py"), undo(4)]  # another script ran since
    assert "Execute Script" in options(other, workspace).names


def test_final_answer_is_not_offered_once_the_tested_change_is_undone(workspace: Path) -> None:
    assert "Final Answer" not in options([run(1), edit(2), run(3), undo(4)], workspace).names
    kept = [run(1), edit(2), run(3), edit(4), run(5, FAILED), undo(6)]  # back to step 3's state
    assert "Final Answer" in options(kept, workspace).names


def test_switched_off_everything_is_offered_as_in_the_paper(workspace: Path) -> None:
    opts = options([run(1)], workspace, skip=False)
    assert opts.names == tuple(a.name for a in ACTIONS)
    assert not opts.withheld


def test_without_drops_actions_but_never_all_of_them(workspace: Path) -> None:
    opts = options([], workspace)
    assert "List Files" not in opts.without(frozenset({"List Files"})).names
    assert opts.without(frozenset(opts.names)).names == opts.names


def test_a_step_line_names_the_action_its_input_and_how_a_run_ended() -> None:
    line = describe_step(run(4))
    assert line.startswith('Step 4: Execute Script {"script_name": "train.py"} -> ')
    assert "The script has been executed." in line and "Validation Accuracy: 0.67" in line


def test_an_edit_in_place_changes_neither_the_listing_nor_other_files(workspace: Path) -> None:
    history = [
        step(1, "List Files", listing(workspace / "data"), dir_path="data"),
        step(2, "Read File", "columns: age, sex", file_name="data_description.txt"),
        edit(3),
    ]
    opts = options(history, workspace)
    assert "data" not in (choices(opts, "List Files", "dir_path") or ())
    assert "data_description.txt" not in (choices(opts, "Read File", "file_name") or ())
    assert "train.py" in (choices(opts, "Read File", "file_name") or ())
    (workspace / "data" / "cache.npy").write_bytes(b"0")  # a script run wrote a file there
    after_run = options([*history, run(4)], workspace)
    assert "data" in (choices(after_run, "List Files", "dir_path") or ())


def guided(history: list[Step], workspace: Path) -> StepOptions:
    return step_options(ACTIONS, history, workspace, skip_known_results=True, guide_steps=True)


def test_with_every_guided_action_refused_the_ones_the_guide_held_back_are_offered(
    workspace: Path,
) -> None:
    first = guided([], workspace)
    assert first.names == ("Execute Script",)
    retry = first.without(frozenset({"Execute Script"}))
    assert retry.names and "Execute Script" not in retry.names and "List Files" in retry.names
    assert retry.without(frozenset(retry.names)).names  # never nothing to do


def test_the_first_step_runs_a_script(workspace: Path) -> None:
    assert guided([], workspace).names == ("Execute Script",)
    assert "Execute Script" not in guided([run(1)], workspace).names  # known now
    assert "List Files" in guided([run(1)], workspace).names


def test_after_an_edit_the_next_step_runs_or_revises_the_script(workspace: Path) -> None:
    opts = guided([run(1), edit(2)], workspace)
    assert set(opts.names) == {"Execute Script"}  # Edit Script (AI) is a worker action
    assert any("run it (or revise it)" in w.why for w in opts.withheld)


def test_after_three_steps_that_changed_nothing_the_next_one_changes_something(
    workspace: Path,
) -> None:
    looks = [
        run(1),
        step(2, "List Files", dir_path="data"),
        step(3, "Read File", file_name="train.py"),
    ]
    assert "List Files" in guided(looks[:2], workspace).names
    opts = guided(looks, workspace)
    assert "List Files" not in opts.names and "Read File" not in opts.names
    assert "Write File" in opts.names
    assert "Undo Edit Script" not in opts.names  # nothing to undo


def test_a_copy_may_not_overwrite_a_file_of_the_workspace(workspace: Path) -> None:
    opts = options([], workspace)
    offer = opts.offers[opts.names.index("Copy File")]
    destination = next(s for s in offer.inputs if s.name == "destination")
    assert "train.py" in destination.not_in and destination.choices is None


def test_undo_is_offered_only_for_a_file_with_a_change_left_to_undo(workspace: Path) -> None:
    assert "Undo Edit Script" not in options([run(1)], workspace).names
    opts = options([run(1), edit(2)], workspace)
    assert choices(opts, "Undo Edit Script", "script_name") == ("train.py",)
    undone = step(3, "Undo Edit Script", "Content of train.py after undo", script_name="train.py")
    assert "Undo Edit Script" not in options([run(1), edit(2), undone], workspace).names


def test_a_run_that_failed_on_a_change_to_a_script_that_ran_cleanly_is_undone(
    workspace: Path,
) -> None:
    opts = guided([run(1), edit(2), run(3, FAILED)], workspace)
    assert opts.names == ("Undo Edit Script",)
    assert any("ran cleanly before it; undo the change" in w.why for w in opts.withheld)
    later = [run(1), edit(2), run(3), edit(4), run(5, FAILED)]  # back to step 2's clean run
    assert guided(later, workspace).names == ("Undo Edit Script",)
    again = [run(1), edit(2), run(3, FAILED), undo(4), edit(5), run(6, FAILED)]
    copied = step(2, "Copy File", "File a.txt copied to b.txt", source="a.txt", destination="b.txt")
    assert guided([run(1), copied, edit(3), run(4, FAILED)], workspace).names == (
        "Undo Edit Script",
    )  # the script goes back to a version that ran cleanly; the copy stays
    assert guided(again, workspace).names == ("Undo Edit Script",)
    undone = guide([run(1), edit(2), run(3, FAILED), undo(4)])
    assert undone is not None and "Undo Edit Script" not in undone[0]  # now run or edit


def test_a_failed_run_with_no_clean_run_to_undo_back_to_is_fixed_first(workspace: Path) -> None:
    opts = guided([run(1, FAILED)], workspace)  # the starter fails
    assert set(opts.names) == {"Inspect Script Lines", "Read File", "Write File"}
    twice = [run(1, FAILED), edit(2), run(3, FAILED)]
    assert "Undo Edit Script" in guided(twice, workspace).names
    assert failed_change(twice) == ""
    assert failed_change([run(1), edit(2), run(3, FAILED)]) == "train.py"
    other = [run(1), edit(2), run(3, FAILED, script="other.py")]  # train.py's change; other.py ran
    assert failed_change(other) == ""


def test_an_action_that_failed_with_nothing_changed_since_is_a_known_error() -> None:
    copy = step(1, "Copy File", "Error: data is a directory", source="a.csv", destination="data/")
    assert known_error([copy], "Copy File", {"source": "a.csv", "destination": "data/"}) == 1
    assert not known_error([copy], "Copy File", {"source": "a.csv", "destination": "b.csv"})
    assert not known_error(
        [copy, edit(2)], "Copy File", {"source": "a.csv", "destination": "data/"}
    )


def test_a_copy_may_not_name_a_folder_as_its_destination(workspace: Path) -> None:
    opts = options([], workspace)
    offer = opts.offers[opts.names.index("Copy File")]
    destination = next(s for s in offer.inputs if s.name == "destination")
    assert "data" in destination.not_in and "data/" in destination.not_in


def test_an_edit_that_changed_nothing_is_known_until_something_changes() -> None:
    inputs = {"script_name": "train.py", "edit_instruction": "x", "save_name": "train.py"}
    same = edit(1, "The edited file is saved ... (no changes: the content is the same)")
    assert known_error([same], "Edit Script (AI)", inputs) == 1
    assert not known_error([same], "Edit Script (AI)", {**inputs, "edit_instruction": "y"})


def test_a_step_line_keeps_its_json_closed_and_a_copy_of_it_is_the_same_input() -> None:
    long = "Add the 'Bedrooms' column to home_data and train again. " * 4
    inputs = {"script_name": "train.py", "edit_instruction": long, "save_name": "train.py"}
    same = step(1, "Edit Script (AI)", "The edited file is saved ... " + NO_CHANGE, **inputs)
    line = describe_step(same)
    shown = json.loads(line.partition("Edit Script (AI) ")[2].partition(" -> ")[0])
    assert shown["save_name"] == "train.py" and shown["edit_instruction"].endswith("…")
    assert len(shown["edit_instruction"]) < len(long)
    assert known_error([same], "Edit Script (AI)", shown) == 1  # the line, copied


def test_a_write_refused_as_read_only_stays_known_after_changes() -> None:
    inputs = {"source": "data/train.csv", "destination": "data/new_data.csv"}
    observation = "Error: data/new_data.csv is read-only for this task; write to another file"
    refused = step(1, "Copy File", observation, **inputs)
    assert known_error([refused, edit(2), run(3)], "Copy File", inputs) == 1
    elsewhere = {**inputs, "destination": "new_data.csv"}
    assert not known_error([refused, edit(2)], "Copy File", elsewhere)


def test_lines_shown_are_known_until_a_run_or_a_change_to_that_file() -> None:
    lines = {"script_name": "train.py", "start_line_number": 34, "end_line_number": 34}
    shown = step(1, "Inspect Script Lines", "Here are the lines", **lines)
    other = step(2, "Edit Script (AI)", EDITED, script_name="eval.py", save_name="eval.py")
    assert known_lines([shown, other], lines) == 1  # another file's edit changes nothing here
    assert not known_lines([shown, other], {**lines, "end_line_number": 40})
    assert not known_lines([shown, edit(2)], lines)
    assert not known_lines([shown, run(2)], lines)


EDIT_X = {"script_name": "train.py", "edit_instruction": "x", "save_name": "train.py"}
UNDO_TRAIN = {"script_name": "train.py"}


def test_an_edit_whose_run_failed_is_known_to_fail_once_its_script_is_back_as_it_was() -> None:
    undo = step(3, "Undo Edit Script", "Content of train.py after undo: ...", **UNDO_TRAIN)
    history = [edit(1), run(2, FAILED), undo]
    assert failed_edit(history, "Edit Script (AI)", EDIT_X) == 1
    assert not failed_edit(history, "Edit Script (AI)", {**EDIT_X, "edit_instruction": "y"})
    assert not failed_edit(history[:2], "Edit Script (AI)", EDIT_X)  # the script holds step 1's
    assert not failed_edit(history, "Execute Script", {"script_name": "train.py"})


def test_an_edit_whose_run_was_clean_or_not_yet_run_is_not_known_to_fail() -> None:
    undo = step(3, "Undo Edit Script", "Content of train.py after undo: ...", **UNDO_TRAIN)
    assert not failed_edit([edit(1), run(2), undo], "Edit Script (AI)", EDIT_X)
    assert not failed_edit([edit(1), undo], "Edit Script (AI)", EDIT_X)


def test_an_edit_that_changed_nothing_is_known_to_fail_while_its_script_holds_the_same() -> None:
    same = edit(2, f"The edited file is saved to train.py. {NO_CHANGE}")
    copy = step(3, "Copy File", "File data/train.csv copied to t.csv.", source="a", destination="t")
    assert failed_edit([edit(1), same, copy], "Edit Script (AI)", EDIT_X) == 2
    assert not known_error([edit(1), same, copy], "Edit Script (AI)", EDIT_X)  # a copy reset it
    assert not failed_edit([edit(1), same, copy, edit(4)], "Edit Script (AI)", EDIT_X)


def test_lines_are_known_while_the_file_holds_what_was_shown(workspace: Path) -> None:
    lines = {"script_name": "train.py", "start_line_number": 1, "end_line_number": 3}
    inspected = step(
        1, "Inspect Script Lines", inspect_lines(workspace / "train.py", lines), **lines
    )
    undo = step(3, "Undo Edit Script", "Content of train.py after undo: ...", **UNDO_TRAIN)
    history = [inspected, edit(2), undo, run(4)]
    assert shown_lines(history, lines, workspace) == 1  # edited and undone: the same lines
    assert not shown_lines(history, {**lines, "end_line_number": 4}, workspace)
    (workspace / "train.py").write_text("print(2)\n")
    assert not shown_lines(history, lines, workspace)
    assert not shown_lines(history, {**lines, "script_name": "../train.py"}, workspace)
