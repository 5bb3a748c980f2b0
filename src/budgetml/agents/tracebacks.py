"""The line of a script where its run failed, picked out of a Python traceback.

Traces: told "columns overlap but no suffix specified: Index(['age'])" under twenty lines of
pandas frames, the 1.5B editor sent back the same broken file three times; the fix was on the
script's own line the traceback named, which it never looked at.
"""

from __future__ import annotations

import re

_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)', re.MULTILINE)


def failing_line(output: str, script_name: str, code: str) -> str:
    """The script's line ("line N of script: <that line>") and the exception, from the deepest
    frame of the script in `output`; "" when it names no line of the script (no traceback, or
    one from elsewhere)."""
    frames = [m for m in _FRAME.finditer(output) if _is_script(m["path"], script_name)]
    if not frames:
        return ""
    number = int(frames[-1]["line"])
    lines = code.splitlines()
    if not 1 <= number <= len(lines):
        return ""
    lasts = [line.strip() for line in output.splitlines() if line.strip()]
    exception = lasts[-1] if lasts else ""
    return f"line {number} of {script_name}: {lines[number - 1].strip()}\n{exception}"


def _is_script(path: str, script_name: str) -> bool:
    path = path.replace("\\", "/")
    return path == script_name or path.endswith("/" + script_name.lstrip("./"))
