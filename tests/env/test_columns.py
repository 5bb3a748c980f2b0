"""A failed run's KeyError on a column no CSV file has is told with the columns there are."""

from pathlib import Path

import pytest

from budgetml.agents.tracebacks import failing_line
from budgetml.env.actions import ACTIONS, ActionContext, execute
from budgetml.env.columns import MISSING_COLUMN, missing_column_note

EXECUTE = next(a for a in ACTIONS if a.name == "Execute Script")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("PassengerId,pclass,sex,age\n1,3rd,male,43\n")
    return tmp_path


@pytest.mark.parametrize(
    ("error", "said"),
    [
        ("KeyError: 'fare'", "'fare'."),
        ("KeyError: \"['fare', 'age'] not in index\"", "'fare'."),
        (
            "KeyError: \"None of [Index(['Sex'], dtype='object')] are in the [columns]\"",
            "'Sex' (did you mean 'sex'?).",
        ),
    ],
)
def test_a_key_error_on_a_column_no_file_has_names_it_and_the_columns(
    data: Path, error: str, said: str
) -> None:
    note = missing_column_note(f"Traceback (most recent call last):\n...\n{error}\n", data)
    assert note.startswith(f"{MISSING_COLUMN} {said}")
    assert "data/train.csv has PassengerId, pclass, sex, age." in note
    assert "'age'" not in note and "'object'" not in note


def test_no_note_for_a_column_a_file_has_another_error_or_no_csv_file(
    data: Path, tmp_path: Path
) -> None:
    assert missing_column_note("KeyError: 'age'", data) == ""
    assert missing_column_note("ValueError: could not convert 'fare'", data) == ""
    empty = tmp_path / "empty"
    empty.mkdir()
    assert missing_column_note("KeyError: 'fare'", empty) == ""


def test_a_csv_file_linked_from_outside_the_workspace_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "secret.csv"
    outside.write_text("password\n")
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "leak.csv").symlink_to(outside)
    assert missing_column_note("KeyError: 'fare'", root) == ""


def test_a_failed_run_ends_with_the_note_and_the_failing_line_keeps_the_exception(
    context: ActionContext,
) -> None:
    script = "import pandas as pd\nframe = pd.read_csv('data.csv')\nprint(frame['fare'])\n"
    (context.workspace.root / "t.py").write_text(script)
    observation = execute(EXECUTE, context, {"script_name": "t.py"}, 100_000)
    assert observation.startswith("The script failed with exit code 1.")
    last = observation.splitlines()[-1]
    assert last == f"{MISSING_COLUMN} 'fare'. data.csv has a, b."
    assert failing_line(observation, "t.py", script).endswith("\nKeyError: 'fare'")
