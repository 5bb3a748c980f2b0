from pathlib import Path

import pytest

from budgetml.env.actions import (
    ACTIONS,
    ActionContext,
    ActionRefused,
    execute,
    existing_file,
    line_number,
)
from budgetml.env.workspace import NO_CHANGE, WorkspaceError

BY_NAME = {action.name: action for action in ACTIONS}


def act(context: ActionContext, name: str, limit: int = 5_000, **args: object) -> str:
    return execute(BY_NAME[name], context, args, limit)


def test_action_names_and_inputs_match_mlagentbench() -> None:
    assert {a.name: a.input_names for a in ACTIONS} == {
        "List Files": ("dir_path",),
        "Read File": ("file_name",),
        "Write File": ("file_name", "content"),
        "Append File": ("file_name", "content"),
        "Copy File": ("source", "destination"),
        "Undo Edit Script": ("script_name",),
        "Execute Script": ("script_name",),
        "Inspect Script Lines": ("script_name", "start_line_number", "end_line_number"),
        "Final Answer": ("final_answer",),
    }


def test_list_files_marks_folders(context: ActionContext) -> None:
    (context.workspace.root / "data").mkdir()
    assert act(context, "List Files", dir_path=".") == "data/\ndata.csv\ntrain.py"


def test_list_files_outside_is_an_observation_not_a_crash(context: ActionContext) -> None:
    assert act(context, "List Files", dir_path="..").startswith("Error: ")


def test_read_write_append_and_copy(context: ActionContext) -> None:
    assert "written" in act(context, "Write File", file_name="notes/a.txt", content="one\n")
    act(context, "Append File", file_name="notes/a.txt", content="two\n")
    assert act(context, "Read File", file_name="notes/a.txt") == "one\ntwo\n"
    act(context, "Copy File", source="notes/a.txt", destination="b.txt")
    assert (context.workspace.root / "b.txt").read_text() == "one\ntwo\n"


def test_read_file_of_binary_data_says_so(context: ActionContext) -> None:
    (context.workspace.root / "blob.bin").write_bytes(b"\x00\x01" * 100)
    assert "binary file of 200 bytes" in act(context, "Read File", file_name="blob.bin")


def test_writing_a_read_only_file_is_refused(context: ActionContext) -> None:
    observation = act(context, "Write File", file_name="data.csv", content="x")
    assert observation.startswith("Error:") and "read-only" in observation
    observation = act(context, "Copy File", source="train.py", destination="data.csv")
    assert "read-only" in observation


def test_undo_edit_script_restores_previous_versions(context: ActionContext) -> None:
    act(context, "Write File", file_name="train.py", content="print(2)\n")
    act(context, "Write File", file_name="train.py", content="print(3)\n")
    assert "print(2)" in act(context, "Undo Edit Script", script_name="train.py")
    assert "print('hello')" in act(context, "Undo Edit Script", script_name="train.py")
    assert "no change" in act(context, "Undo Edit Script", script_name="train.py")


def test_a_write_that_changes_nothing_says_so_and_is_not_undone(context: ActionContext) -> None:
    act(context, "Write File", file_name="train.py", content="print(2)\n")
    for name, args in [
        ("Write File", {"file_name": "train.py", "content": "print(2)\n"}),
        ("Append File", {"file_name": "train.py", "content": ""}),
        ("Copy File", {"source": "train.py", "destination": "train.py"}),
    ]:
        assert act(context, name, **args).endswith(NO_CHANGE)
    assert "print('hello')" in act(context, "Undo Edit Script", script_name="train.py")


def test_inspect_script_lines_numbers_lines(context: ActionContext) -> None:
    lines = "".join(f"line {n}\n" for n in range(1, 11))
    (context.workspace.root / "s.py").write_text(lines)
    observation = act(
        context,
        "Inspect Script Lines",
        script_name="s.py",
        start_line_number=3,
        end_line_number="5",
    )
    assert "the file ends at line 10" in observation
    assert "3: line 3\n4: line 4\n5: line 5" in observation
    assert "2: line 2" not in observation


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [(5, 2, "before"), ("a", 3, "whole number"), (0, 3, "1 or more"), (1, 500, "at most 100")],
)
def test_inspect_script_lines_rejects_bad_ranges(
    context: ActionContext, start: object, end: object, problem: str
) -> None:
    observation = act(
        context,
        "Inspect Script Lines",
        script_name="train.py",
        start_line_number=start,
        end_line_number=end,
    )
    assert observation.startswith("Error:") and problem in observation


def test_execute_script_runs_in_the_workspace(context: ActionContext) -> None:
    (context.workspace.root / "w.py").write_text("import os\nprint(os.getcwd())\n")
    observation = act(context, "Execute Script", script_name="w.py")
    assert observation.startswith("The script has been executed.")
    assert str(context.workspace.root) in observation


def test_execute_script_reports_failures_and_timeouts(context: ActionContext) -> None:
    (context.workspace.root / "bad.py").write_text("raise SystemExit(4)\n")
    assert "exit code 4" in act(context, "Execute Script", script_name="bad.py")
    (context.workspace.root / "slow.py").write_text("import time\ntime.sleep(30)\n")
    quick = ActionContext(context.workspace, context.sandbox, context.python, 1)
    assert "time limit of 1 s" in act(quick, "Execute Script", script_name="slow.py")


def test_execute_script_refuses_missing_and_non_python_files(context: ActionContext) -> None:
    assert "not a file" in act(context, "Execute Script", script_name="nope.py")
    assert "not a Python script" in act(context, "Execute Script", script_name="data.csv")


def test_the_action_refuses_bad_inputs_and_the_workspace_bad_paths(context: ActionContext) -> None:
    with pytest.raises(ActionRefused, match="whole number"):
        line_number("ten", "start_line_number")
    with pytest.raises(WorkspaceError, match="not a file in the workspace"):
        existing_file(context, "nope.py")
    # the agent reads both alike: "Error: " and the reason
    lines = {"start_line_number": "ten", "end_line_number": 2}
    assert act(context, "Inspect Script Lines", script_name="train.py", **lines) == (
        "Error: start_line_number must be a whole number, got 'ten'"
    )
    assert act(context, "Execute Script", script_name="nope.py") == (
        "Error: nope.py is not a file in the workspace; use List Files to look"
    )


def test_observations_are_truncated_keeping_head_and_tail(context: ActionContext) -> None:
    body = "START\n" + "y" * 10_000 + "\nEND"
    (context.workspace.root / "big.txt").write_text(body)
    observation = act(context, "Read File", limit=500, file_name="big.txt")
    assert observation.startswith("START") and observation.endswith("END")
    assert "characters cut from the middle" in observation
    assert len(observation) < 600


def test_paths_escaping_through_a_symlink_are_refused(
    context: ActionContext, tmp_path: Path
) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    (context.workspace.root / "link").symlink_to(tmp_path)
    assert "points outside" in act(context, "Read File", file_name="link/outside.txt")
    assert "points outside" in act(context, "Write File", file_name="link/new.txt", content="x")
    assert not (tmp_path / "new.txt").exists()
