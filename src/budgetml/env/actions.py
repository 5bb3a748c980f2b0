"""The actions the planner can take, with MLAgentBench's names, inputs and documentation.

Each action is data (name, doc, inputs) plus a handler. A handler refuses a request by raising
ActionRefused (an input the action cannot take, no lifelines left, an edit that produced no
code) or, deeper down, WorkspaceError (a bad path, a read-only file); `execute` turns either
into the observation rather than a crash.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from budgetml.env.sandbox import Sandbox
from budgetml.env.workspace import NO_CHANGE, Workspace, WorkspaceError
from budgetml.textutil import truncate_middle

FINAL_ANSWER = "Final Answer"
_MAX_INSPECT_LINES = 100
_MAX_LINE_CHARS = 2_000
"""Inspect Script Lines cuts a longer line (minified code, a data row)."""
_MAX_READ_BYTES = 1_000_000
"""Read File reads at most this much of a file, its start and end, never a huge file whole."""
_SAMPLE_BYTES = 8_192
_CHUNK_BYTES = 1 << 20
_SURROGATE = re.compile("[\ud800-\udfff]")


class ActionRefused(Exception):
    """An action refuses the request for a reason of its own, not the workspace's; the message
    becomes the observation."""


@dataclass(frozen=True)
class ActionContext:
    workspace: Workspace
    sandbox: Sandbox
    python: str
    script_timeout_s: float


@dataclass(frozen=True)
class ActionInput:
    name: str
    description: str


@dataclass(frozen=True)
class Action:
    name: str
    description: str
    inputs: tuple[ActionInput, ...]
    observation: str
    handler: Callable[[ActionContext, Mapping[str, Any]], str]

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.inputs)


def execute(action: Action, context: ActionContext, args: Mapping[str, Any], limit: int) -> str:
    """Run `action`; a refused request is an observation that says why, never an exception."""
    try:
        observation = action.handler(context, args)
    except (ActionRefused, WorkspaceError) as exc:
        observation = f"Error: {exc}"
    except OSError as exc:  # a file that vanished, a FIFO, no permission: the agent's business
        observation = f"Error: {exc.strerror or exc}"
    except (RuntimeError, ValueError) as exc:  # a loop of links, a path the OS cannot take
        observation = f"Error: this path cannot be used ({type(exc).__name__}: {exc})"
    # an undecodable file name comes back as lone surrogates, which no prompt or terminal takes
    return truncate_middle(_SURROGATE.sub("\ufffd", observation), limit)


def looks_binary(sample: bytes) -> bool:
    """NUL bytes, or mostly bytes that are not text in UTF-8: not something to show a model."""
    if b"\x00" in sample:
        return True
    text = sample.decode("utf-8", errors="replace")
    odd = sum(1 for ch in text if ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\f\v\x1b"))
    return odd > 0.3 * len(text)


def _list_files(context: ActionContext, args: Mapping[str, Any]) -> str:
    folder = context.workspace.resolve(str(args["dir_path"]) or ".")
    if not folder.is_dir():
        raise WorkspaceError(f"{args['dir_path']} is not a directory in the workspace")
    return listing(folder)


def listing(folder: Path) -> str:
    """List Files' observation of `folder` (folders end with /)."""
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    lines = [p.name + ("/" if p.is_dir() else "") for p in entries]
    return "\n".join(lines) if lines else "(the directory is empty)"


def _read_file(context: ActionContext, args: Mapping[str, Any]) -> str:
    """The file's text (bytes that are not UTF-8 shown as U+FFFD); of a huge one, start and end."""
    name = args["file_name"]
    path = existing_file(context, name)
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if looks_binary(handle.read(_SAMPLE_BYTES)):
            return f"{name} is a binary file of {size:,} bytes; it cannot be shown."
        handle.seek(0)
        if size <= _MAX_READ_BYTES:
            return handle.read().decode("utf-8", errors="replace")
        half = _MAX_READ_BYTES // 2
        head = handle.read(half).decode("utf-8", errors="replace")
        handle.seek(size - half)
        tail = handle.read().decode("utf-8", errors="replace")
    cut = f"\n[... {size - 2 * half:,} bytes cut from the middle ...]\n"
    return f"{name} is {size:,} bytes; only its start and end are shown.\n{head}{cut}{tail}"


def _write_file(context: ActionContext, args: Mapping[str, Any]) -> str:
    path = context.workspace.resolve(str(args["file_name"]))
    changed = context.workspace.write_text(path, str(args["content"]))
    return f"File {args['file_name']} written successfully." + _unchanged(changed)


def _append_file(context: ActionContext, args: Mapping[str, Any]) -> str:
    path = context.workspace.resolve(str(args["file_name"]))
    changed = context.workspace.write_text(path, str(args["content"]), append=True)
    return f"File {args['file_name']} appended successfully." + _unchanged(changed)


def _copy_file(context: ActionContext, args: Mapping[str, Any]) -> str:
    source = context.workspace.resolve(str(args["source"]))
    destination = context.workspace.resolve(str(args["destination"]))
    changed = context.workspace.copy(source, destination)
    return f"File {args['source']} copied to {args['destination']}." + _unchanged(changed)


def _unchanged(changed: bool) -> str:
    """The note that a write left its file as it was, which the planner's history reads."""
    return "" if changed else f" {NO_CHANGE}"


def _undo_edit_script(context: ActionContext, args: Mapping[str, Any]) -> str:
    path = context.workspace.resolve(str(args["script_name"]))
    context.workspace.check_writable(path)
    return context.workspace.undo(path)


def _inspect_script_lines(context: ActionContext, args: Mapping[str, Any]) -> str:
    return inspect_lines(existing_file(context, args["script_name"]), args)


def inspect_lines(path: Path, args: Mapping[str, Any]) -> str:
    """What Inspect Script Lines shows of file `path` (also read by the planner, to tell lines
    it would show again as they were shown)."""
    start = line_number(args["start_line_number"], "start_line_number")
    end = line_number(args["end_line_number"], "end_line_number")
    if end < start:
        raise ActionRefused("end_line_number is before start_line_number")
    if end - start + 1 > _MAX_INSPECT_LINES:
        raise ActionRefused(f"at most {_MAX_INSPECT_LINES} lines can be shown at once")
    with path.open("rb") as handle:
        if looks_binary(handle.read(_SAMPLE_BYTES)):
            raise ActionRefused(f"{args['script_name']} is a binary file, not lines of text")
        handle.seek(0)
        lines, total = _read_lines(handle, start, end)
    shown = "\n".join(f"{n}: {lines[n]}" for n in range(start, min(end, total) + 1))
    return f"Here are the lines (the file ends at line {total}):\n\n{shown}"


def _read_lines(handle: BinaryIO, start: int, end: int) -> tuple[dict[int, str], int]:
    """Lines start..end (each cut at _MAX_LINE_CHARS) and the number of lines, read in chunks
    so that neither a huge file nor one endless line is ever held whole."""
    wanted: dict[int, bytearray] = {}
    number, last = 1, b""
    while chunk := handle.read(_CHUNK_BYTES):
        if number > end:
            number += chunk.count(b"\n")
        else:
            pieces = chunk.split(b"\n")
            for index, piece in enumerate(pieces):
                if start <= number <= end:
                    line = wanted.setdefault(number, bytearray())
                    line += piece[: max(0, 4 * _MAX_LINE_CHARS - len(line))]
                number += index < len(pieces) - 1
        last = chunk[-1:]
    total = number - 1 if last in (b"\n", b"") else number
    return {n: _line_text(bytes(raw)) for n, raw in wanted.items()}, total


def _line_text(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").rstrip("\r")
    if len(text) <= _MAX_LINE_CHARS:
        return text
    return text[:_MAX_LINE_CHARS] + " [... the rest of this long line is cut ...]"


def _execute_script(context: ActionContext, args: Mapping[str, Any]) -> str:
    path = existing_file(context, args["script_name"])
    if path.suffix != ".py":
        raise ActionRefused(f"{args['script_name']} is not a Python script (.py)")
    return run_script(context, path)


def run_script(context: ActionContext, path: Path) -> str:
    """Run a workspace script in the sandbox, as Execute Script does; its observation."""
    relative = context.workspace.relative(path)
    result = context.sandbox.run(
        [context.python, relative], context.workspace.root, context.script_timeout_s
    )
    if result.timed_out:
        head = f"The script was stopped after the time limit of {context.script_timeout_s:g} s."
    elif result.exit_code is not None and result.exit_code < 0:
        head = "The script was killed."
    elif result.exit_code != 0:
        head = f"The script failed with exit code {result.exit_code}."
    else:
        head = "The script has been executed."
    why = f"\n[sandbox: {result.reason}]" if result.reason and not result.timed_out else ""
    return f"{head} Here is the output:\n{result.output}{why}"


def _final_answer(context: ActionContext, args: Mapping[str, Any]) -> str:
    return "Final answer submitted; the run ends here and the workspace is scored."


def existing_file(context: ActionContext, name: Any) -> Path:
    path = context.workspace.resolve(str(name))
    if not path.is_file():
        raise WorkspaceError(f"{name} is not a file in the workspace; use List Files to look")
    return path


def line_number(value: Any, key: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ActionRefused(f"{key} must be a whole number, got {value!r}") from None
    if number < 1:
        raise ActionRefused(f"{key} must be 1 or more (lines are numbered from 1)")
    return number


def _input(name: str, description: str) -> ActionInput:
    return ActionInput(name, description)


ACTIONS: tuple[Action, ...] = (
    Action(
        "List Files",
        "Use this to navigate the file system.",
        (_input("dir_path", 'a valid relative path to a directory, such as "." or "folder1"'),),
        "a list of the files and folders in dir_path (folders end with /), or an error",
        _list_files,
    ),
    Action(
        "Read File",
        "Use this to read an existing file.",
        (_input("file_name", "a valid file name with a relative path to the current directory"),),
        "the contents of the file, or an error",
        _read_file,
    ),
    Action(
        "Write File",
        "Use this to write a file. If the file already exists, it will be overwritten.",
        (
            _input("file_name", "a valid file name with a relative path to the current directory"),
            _input("content", "the content to be written to the file"),
        ),
        "a success message, or an error",
        _write_file,
    ),
    Action(
        "Append File",
        "Use this to append content to the end of a file (it is created if missing).",
        (
            _input("file_name", "a valid file name with a relative path to the current directory"),
            _input("content", "the content to be appended to the file"),
        ),
        "a success message, or an error",
        _append_file,
    ),
    Action(
        "Copy File",
        "Use this to copy a file to a new location with a new name.",
        (
            _input("source", "a valid file name with a relative path to the current directory"),
            _input(
                "destination", "a valid file name with a relative path to the current directory"
            ),
        ),
        "a success message, or an error",
        _copy_file,
    ),
    Action(
        "Undo Edit Script",
        "Use this to undo the last change to a file; repeat it to go further back.",
        (_input("script_name", "a valid file name with a relative path to the current directory"),),
        "the content of the file after the undo, or an error",
        _undo_edit_script,
    ),
    Action(
        "Execute Script",
        "Use this to run a Python script. The script must already exist.",
        (_input("script_name", "a valid Python script name with a relative path"),),
        "the output of the script (long output keeps its start and end), or an error",
        _execute_script,
    ),
    Action(
        "Inspect Script Lines",
        f"Use this to inspect specific lines of a script (at most {_MAX_INSPECT_LINES} at once).",
        (
            _input("script_name", "a valid Python script name with a relative path"),
            _input("start_line_number", "a valid line number"),
            _input("end_line_number", "a valid line number"),
        ),
        "the content of those lines with their numbers, or an error",
        _inspect_script_lines,
    ),
    Action(
        FINAL_ANSWER,
        "Use this only once you have solved the problem (or can improve no further); "
        "the run ends and your workspace is scored.",
        (_input("final_answer", "a detailed description of what you did and the result"),),
        "nothing; the run ends",
        _final_answer,
    ),
)
