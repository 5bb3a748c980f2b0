"""A failed run's KeyError on a data column that no CSV file of the workspace has, said in one
line with the columns the files do have.

Traces: the 1.5B's titanic edits read a `fare` column the data lacks; told `KeyError: 'fare'`,
its planner asked next for "Add the 'fare' column to the 'train_data' dataframe", six times in
30 steps, and its editor, reading the same error, could not tell a missing column from a
missing line of code.
"""

from __future__ import annotations

import csv
import difflib
import re
from pathlib import Path

MISSING_COLUMN = "Note: no CSV file of the workspace has a column named"
"""How the note starts (a traceback's own last line is the one before it)."""
MAX_FILES = 3
MAX_HEADER_BYTES = 65_536
MAX_COLUMNS_CHARS = 600
_KEY_ERROR = re.compile(r"^KeyError: (?P<key>.*)$", re.MULTILINE)
_DTYPE = re.compile(r"dtype='[^']*'")
_QUOTED = re.compile(r"'([^'\n]{1,100})'")


def missing_column_note(output: str, root: Path) -> str:
    """The note for a run whose last KeyError names columns no CSV file under `root` (two
    folders deep) has; "" when it names none, or there is no CSV file to tell."""
    errors = list(_KEY_ERROR.finditer(output))
    if not errors:
        return ""
    names = _QUOTED.findall(_DTYPE.sub("", errors[-1]["key"]))
    headers = _headers(root)
    known = {column for columns in headers.values() for column in columns}
    missing = [name for name in dict.fromkeys(names) if name not in known]
    if not missing or not headers:
        return ""
    said = ", ".join(f"'{name}'" + _close(name, known) for name in missing)
    files = "; ".join(f"{name} has {_cut(', '.join(columns))}" for name, columns in headers.items())
    return f"{MISSING_COLUMN} {said}. {files}."


def _headers(root: Path) -> dict[str, list[str]]:
    """The first line of the workspace's CSV files (the shallowest first, at most MAX_FILES),
    each as its column names; files outside `root` (through a link) are not read."""
    inside = root.resolve()
    found: dict[str, list[str]] = {}
    for path in sorted(root.glob("*.csv")) + sorted(root.glob("*/*.csv")):
        if len(found) == MAX_FILES:
            break
        try:
            if not path.is_file() or not path.resolve().is_relative_to(inside):
                continue
            with path.open("rb") as handle:
                first = handle.readline(MAX_HEADER_BYTES).decode("utf-8", "replace")
        except OSError:
            continue
        columns = next(csv.reader([first.lstrip("\ufeff")]), [])
        if columns:
            found[path.relative_to(root).as_posix()] = [c.strip() for c in columns]
    return found


def _close(name: str, known: set[str]) -> str:
    """ " (did you mean 'x'?)" for a near name, such as another case or spelling."""
    lowered = {column.lower(): column for column in known}
    if name.lower() in lowered:
        return f" (did you mean '{lowered[name.lower()]}'?)"
    near = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
    return f" (did you mean '{near[0]}'?)" if near else ""


def _cut(text: str) -> str:
    return text if len(text) <= MAX_COLUMNS_CHARS else text[: MAX_COLUMNS_CHARS - 5] + ", ..."
