"""failing_line: the script's own line of a traceback, which the editor is pointed at."""

from budgetml.agents.tracebacks import failing_line

SCRIPT = "import pandas as pd\ncolumns = ['age']\nX = df[columns].join(df[['age']])\n"
OUTPUT = """The script failed with exit code 1. Here is the output:
Traceback (most recent call last):
  File "/runs/x/workspace/train.py", line 3, in <module>
    X = df[columns].join(df[['age']])
  File "/venv/lib/python3.11/site-packages/pandas/core/frame.py", line 15900, in join
    return merge(
ValueError: columns overlap but no suffix specified: Index(['age'], dtype='str')
"""


def test_the_deepest_frame_of_the_script_and_the_exception_are_named() -> None:
    assert failing_line(OUTPUT, "train.py", SCRIPT) == (
        "line 3 of train.py: X = df[columns].join(df[['age']])\n"
        "ValueError: columns overlap but no suffix specified: Index(['age'], dtype='str')"
    )


def test_a_frame_of_another_file_with_the_same_ending_is_not_the_script() -> None:
    other = OUTPUT.replace("/workspace/train.py", "/workspace/my_train.py")
    assert failing_line(other, "train.py", SCRIPT) == ""


def test_no_traceback_or_a_line_past_the_file_names_nothing() -> None:
    assert failing_line("KeyError: 'fare'", "train.py", SCRIPT) == ""
    assert failing_line(OUTPUT.replace("line 3,", "line 99,"), "train.py", SCRIPT) == ""
