"""The LLM-backed workers (the paper's profiled W[i]) as actions with MLAgentBench's names.

Each worker action asks the worker model (llm_worker.py) under the profile of its role.
Requests that will be refused are refused (ActionRefused, or WorkspaceError for a bad path)
before a model is paid for. The research-log actions exist only in retrieval (R) runs; Reflection
uses the REFLECTION_PROFILE of memory.py, which research-log summaries and retrieval reuse.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from budgetml.agents.history import EXECUTE, SAME_CODE, script_ran_cleanly
from budgetml.agents.llm_worker import LLMWorker
from budgetml.agents.memory import REFLECTION_PROFILE, ResearchLog, retrieve
from budgetml.agents.prompting import TEMPLATES
from budgetml.agents.tracebacks import failing_line
from budgetml.env.actions import (
    Action,
    ActionContext,
    ActionInput,
    ActionRefused,
    existing_file,
    line_number,
    run_script,
)
from budgetml.env.workspace import NO_CHANGE, WorkspaceError
from budgetml.textutil import truncate_middle

UNDERSTAND_PROFILE = (
    "You are an expert in understanding files containing both code and natural language."
)
EDIT_PROFILE = "You are an expert in editing code files."

CHUNK_CHARS = 6_000
"""Understand File reads a longer file in line-aligned parts of at most this size."""
MAX_CHUNKS = 8
"""Understand File reads at most this many parts, so a huge data file cannot drain the budget."""
MAX_DIFF_CHARS = 5_000
MAX_PROBLEM_CHARS = 2_000
MAX_DESCRIPTION_CHARS = 3_000
MAX_ERROR_CHARS = 2_000
MIN_LINES_TO_GUT = 12
MAX_RUN_CHARS = 1_500
RETRY_TEMPERATURE = 0.7
"""A version written after a failed run is sampled at this temperature: at the worker's 0.01
the 1.5B editor, shown its own error, made the same mistake again (titanic, 4 of 4 cells)."""
_CHARS_PER_TOKEN = 4  # generous: text longer than 4 × max_tokens cannot come back in one reply
_FENCE = re.compile(r"^[ \t]*```[^\n`]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
_FILE = "a valid file name with a relative path to the current directory"
_SCRIPT = "a valid Python script name with a relative path"
_INSTRUCTION = "a detailed step-by-step description of how to edit it"
_SAVE_NAME = "the file name to save the edited script to"


@dataclass(frozen=True)
class _Part:
    """Lines start..end (1-based, inclusive) of a file, or what a worker said about them."""

    start: int
    end: int
    text: str


LastRun = Callable[[str], "str | None"]
"""The observation of a script's last run in this run, or None: what an edit may fix."""
FailedBefore = Callable[[str, Mapping[str, Any]], int]
"""The step that made this very edit (action, input) of the script as it is now and failed
(history.failed_edit), or 0."""


def worker_actions(
    worker: LLMWorker,
    log: ResearchLog,
    research_problem: str,
    retrieval: bool,
    last_run: LastRun = lambda script: None,
    last_failure: LastRun = lambda script: None,
    edit_versions: int = 0,
    skip_same_code: bool = False,
    failed_before: FailedBefore = lambda action, args: 0,
) -> tuple[Action, ...]:
    """The worker actions; Append Summary and Retrieval only with retrieval on (the paper's R)."""
    editing = EditContext(
        research_problem, last_run, last_failure, edit_versions, skip_same_code, failed_before
    )
    always = (
        Action(
            "Understand File",
            "Use this to read a whole file and understand certain aspects of it. Say in detail "
            "what to look for and what to return; a helper reads the file (in parts if it is "
            "long) and answers, which saves reading a long file line by line.",
            _inputs(
                file_name=_FILE,
                things_to_look_for="a detailed description of what to look for and what "
                "should be returned",
            ),
            "a description of what was found, with references to the relevant lines, or an error",
            lambda context, args: _understand_file(worker, context, args),
        ),
        Action(
            "Edit Script (AI)",
            "Use this to have a helper edit a whole Python script (or write a new one) from a "
            "detailed instruction. Check the diff it returns; Undo Edit Script on save_name "
            "reverts the edit. For a long script, edit a range with Edit Script Segment (AI).",
            _inputs(
                script_name=f"{_SCRIPT}; if it does not exist, a new script is written",
                edit_instruction=_INSTRUCTION,
                save_name=_SAVE_NAME,
            ),
            "the diff of the edit, or an error",
            lambda context, args: _edit_script(worker, editing, context, args),
        ),
        Action(
            "Edit Script Segment (AI)",
            "Use this to have a helper edit only the given lines of a Python script from a "
            "detailed instruction; the rest of the file is kept. Check the diff it returns; "
            "Undo Edit Script on save_name reverts the edit.",
            _inputs(
                script_name=_SCRIPT,
                start_line_number="a valid line number",
                end_line_number="a valid line number",
                edit_instruction=_INSTRUCTION,
                save_name=_SAVE_NAME,
            ),
            "the diff of the edit, or an error",
            lambda context, args: _edit_segment(worker, editing, context, args),
        ),
        Action(
            "Reflection",
            "Use this to step back and reflect on your progress: a helper reads the research "
            "problem and your research log and answers what you ask.",
            _inputs(
                things_to_reflect_on="a detailed description of what to reflect on and what "
                "should be returned"
            ),
            "the reflection",
            lambda context, args: _reflection(worker, log, research_problem, args),
        ),
    )
    if not retrieval:
        return always
    return (
        *always,
        Action(
            "Append Summary to Research Log",
            "Use this to record important facts, results and decisions in your research log, "
            "so that they can be recalled in later steps.",
            _inputs(content="the summary to append to the research log"),
            "a confirmation that the summary was appended, or an error",
            lambda context, args: _append_summary(log, args),
        ),
        Action(
            "Retrieval from Research Log",
            "Use this to recall what your research log holds that is relevant to your plan.",
            _inputs(current_plan="a detailed description of your current research plan and status"),
            "the relevant parts of the research log",
            lambda context, args: _retrieval(worker, log, args),
        ),
    )


def _inputs(**descriptions: str) -> tuple[ActionInput, ...]:
    """An action's input keys, in order, with what the planner should put in each."""
    return tuple(ActionInput(name, text) for name, text in descriptions.items())


def _understand_file(worker: LLMWorker, context: ActionContext, args: Mapping[str, Any]) -> str:
    """One call per part of the file, then one more to combine the parts' answers."""
    name, looking_for = str(args["file_name"]), str(args["things_to_look_for"])
    parts = _parts(_text(existing_file(context, name), name))
    if not parts:
        return f"{name} is empty."
    read, total_lines = parts[:MAX_CHUNKS], parts[-1].end
    template = TEMPLATES.get_template("worker_understand.j2")
    answers = []
    for index, part in enumerate(read, start=1):
        prompt = template.render(
            file_name=name,
            part=index,
            parts=len(read),
            start=part.start,
            end=part.end,
            total_lines=total_lines,
            content=part.text,
            things_to_look_for=looking_for,
        )
        answers.append(_Part(part.start, part.end, worker.ask(UNDERSTAND_PROFILE, prompt).strip()))
    answer = answers[0].text
    if len(answers) > 1:
        prompt = TEMPLATES.get_template("worker_understand_combine.j2").render(
            file_name=name, things_to_look_for=looking_for, answers=answers
        )
        answer = worker.ask(UNDERSTAND_PROFILE, prompt).strip()
    if len(read) < len(parts):
        answer += (
            f"\n\n(Only lines 1 to {read[-1].end} of {total_lines} were read: the file is too "
            "long for one Understand File. Use Inspect Script Lines for the rest.)"
        )
    return answer


@dataclass(frozen=True)
class EditContext:
    """What an editor needs beyond the script to act on a small planner's vague instruction
    (traces: the 1.5B worker told "try different features" added a `fare` column the data
    lacks, since it never saw data_description.txt; told of the KeyError, one fix away)."""

    research_problem: str
    last_run: LastRun
    last_failure: LastRun = lambda script: None
    """The last failed run of the script, even if undone since (traces: the 1.5B editor, at
    temperature 0.01, made the same failing edit again after an undo)."""
    versions: int = 0
    """How many versions of an edit of a Python script are run before one is kept (0: saved
    unrun, the paper's); see `_kept_edit`."""
    skip_same_code: bool = False
    """An edit in place that leaves a Python script's code as it was (only its layout or
    comments differ) is not saved: its run's result is known (`skip_known_results`)."""
    failed_before: FailedBefore = lambda action, args: 0
    """An edit made before, of the script as it is now, that failed: the repeat is sampled
    afresh at RETRY_TEMPERATURE and told so (`skip_known_results`; traces: at the worker's
    0.01, budget's titanic editor turned the same instruction into the same failing script
    four times, while at 0.7 the same instruction gave a script that ran in 2 of 4 samples)."""

    def render(self, workspace: Path, script_name: str) -> dict[str, Any]:
        run = self.last_run(script_name)
        failed = run is not None and not script_ran_cleanly("Execute Script", run)
        earlier = None if failed else self.last_failure(script_name)
        return {
            "research_problem": truncate_middle(self.research_problem.strip(), MAX_PROBLEM_CHARS),
            "descriptions": _descriptions(workspace),
            "last_error": run[-MAX_ERROR_CHARS:] if failed and run else "",
            "last_failing": failing_line(run, script_name, _current(workspace, script_name))
            if failed and run
            else "",
            "earlier_error": earlier[-MAX_ERROR_CHARS:] if earlier else "",
        }


def _current(workspace: Path, script_name: str) -> str:
    """The script as it is now ("" if unreadable), to quote the line its last run failed at."""
    path = workspace / script_name
    try:
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    except OSError:
        return ""


def _descriptions(workspace: Path) -> list[dict[str, str]]:
    """The task's description files (data_description.txt and the like), each cut short."""
    found = []
    for path in sorted(workspace.iterdir()) if workspace.is_dir() else []:
        name = path.name.lower()
        if (
            path.is_file()
            and not path.is_symlink()
            and ("description" in name or name.startswith("readme"))
        ):
            text = path.read_bytes()[: 4 * MAX_DESCRIPTION_CHARS].decode("utf-8", "replace")
            found.append({"name": path.name, "text": truncate_middle(text, MAX_DESCRIPTION_CHARS)})
    return found[:3]


def _edit_script(
    worker: LLMWorker, editing: EditContext, context: ActionContext, args: Mapping[str, Any]
) -> str:
    """The worker rewrites the whole file; a missing script_name starts from an empty file."""
    name, save_name = str(args["script_name"]), str(args["save_name"])
    source = context.workspace.resolve(name)
    target = context.workspace.resolve(save_name)
    context.workspace.check_writable(target)  # refuse before paying for the edit
    old = _text(source, name) if source.exists() else ""
    _check_fits(worker, old, "the file")
    repeat_of = editing.failed_before("Edit Script (AI)", args)
    prompt = TEMPLATES.get_template("worker_edit.j2").render(
        script_name=name,
        content=old,
        edit_instruction=str(args["edit_instruction"]),
        repeat_of=repeat_of,
        **editing.render(context.workspace.root, name),
    )
    return _kept_edit(
        worker, editing, context, prompt, old, (name, save_name), lambda code: code, repeat_of
    )


def _edit_segment(
    worker: LLMWorker, editing: EditContext, context: ActionContext, args: Mapping[str, Any]
) -> str:
    """The worker sees and rewrites only lines start..end; the lines around them are kept."""
    name, save_name = str(args["script_name"]), str(args["save_name"])
    old = _text(existing_file(context, name), name)
    target = context.workspace.resolve(save_name)
    context.workspace.check_writable(target)
    start = line_number(args["start_line_number"], "start_line_number")
    end = line_number(args["end_line_number"], "end_line_number")
    lines = old.splitlines(keepends=True)
    if end < start:
        raise ActionRefused("end_line_number is before start_line_number")
    if start > len(lines):
        raise ActionRefused(f"{name} has {len(lines)} line(s); start_line_number is past its end")
    end = min(end, len(lines))
    segment = "".join(lines[start - 1 : end])
    _check_fits(worker, segment, "the segment")
    repeat_of = editing.failed_before("Edit Script Segment (AI)", args)
    prompt = TEMPLATES.get_template("worker_edit_segment.j2").render(
        script_name=name,
        start=start,
        end=end,
        total_lines=len(lines),
        segment=segment,
        edit_instruction=str(args["edit_instruction"]),
        repeat_of=repeat_of,
        **editing.render(context.workspace.root, name),
    )
    before, after = "".join(lines[: start - 1]), "".join(lines[end:])
    return _kept_edit(
        worker,
        editing,
        context,
        prompt,
        old,
        (name, save_name),
        lambda code: before + code + after,
        repeat_of,
        segment=True,
    )


def _kept_edit(
    worker: LLMWorker,
    editing: EditContext,
    context: ActionContext,
    prompt: str,
    old: str,
    names: tuple[str, str],
    whole: Callable[[str], str],
    repeat_of: int = 0,
    segment: bool = False,
) -> str:
    """Save the edit (its first version sampled afresh if it repeats the failed edit of step
    `repeat_of`); with `editing.versions`, an edited Python script is run first, and a
    version whose run fails is taken back and shown to the worker with its error, up to that
    many versions; if none runs, nothing is kept (traces: the 1.5B's titanic edits read a `fare`
    column the data lacks or cut an import short, and its planner then asked for the wrong fix,
    step after step; a script left broken scores nothing at the end)."""
    name, save_name = names
    target = context.workspace.resolve(save_name)
    temperature = RETRY_TEMPERATURE if repeat_of else None
    new, note, part = _compiling_code(worker, prompt, old, save_name, whole, temperature)
    if editing.skip_same_code and name == save_name and _same_code(old, new, save_name):
        return (
            f"{save_name} is unchanged: the edit changed only blank lines, spacing or comments, "
            f"so the script would run as before, and it was not saved. Ask for a change to what "
            f"the code does. {SAME_CODE}"
        )
    if editing.versions == 0 or not save_name.endswith(".py"):
        context.workspace.write_text(target, new)
        return _saved(name, save_name, old, new) + note
    run = ""
    for version in range(1, editing.versions + 1):
        if version > 1:
            follow_up = TEMPLATES.get_template("worker_edit_failed_run.j2").render(
                script_name=save_name,
                output=run[-MAX_ERROR_CHARS:],
                failing=failing_line(run, save_name, new),
                segment=segment,
            )
            reply = worker.ask_again(
                EDIT_PROFILE, prompt, f"```python\n{part}```", follow_up, RETRY_TEMPERATURE
            )
            try:
                part = _code(reply)
            except ActionRefused:
                continue
            if _gutted(old, whole(part)) is not None:
                continue
            new, note = whole(part), ""
        wrote = context.workspace.write_text(target, new)
        run = run_script(context, target)
        if script_ran_cleanly(EXECUTE, run):
            tries = f" (version {version} of the edit: each before it failed)" * (version > 1)
            output = truncate_middle(run.partition("\n")[2], MAX_RUN_CHARS)
            return (
                _saved(name, save_name, old, new)
                + note
                + f"\n\n{save_name} was run after the edit and ran without error{tries}. "
                f"Its output:\n{output}"
            )
        if wrote:  # a version equal to the file pushed no backup to undo
            context.workspace.undo(target)
    raise ActionRefused(
        f"the edit was not kept: {save_name} failed when run after each of "
        f"{editing.versions} version(s) of it, so it is unchanged. The last run:\n"
        + truncate_middle(run, MAX_ERROR_CHARS)
    )


def _compiling_code(
    worker: LLMWorker,
    prompt: str,
    old: str,
    save_name: str,
    whole: Callable[[str], str],
    temperature: float | None = None,
) -> tuple[str, str, str]:
    """The edited file (`whole` of the worker's code). A Python file that does not compile, or
    code that drops most of the file, goes back to the worker once with the problem; a file
    still broken is saved with a warning, one still gutted is refused (traces: the 1.5B editor
    answered a fix request with one line, `obj['code']`, wiping an 87-line script)."""
    reply = worker.ask(EDIT_PROFILE, prompt, temperature=temperature)
    part = _code(reply)
    new = whole(part)
    problem = _gutted(old, new) or _syntax_error(new, save_name)
    if problem is None:
        return new, "", part
    retry = TEMPLATES.get_template("worker_edit_fix.j2").render(error=problem)
    fixed_reply = worker.ask_again(EDIT_PROFILE, prompt, reply, retry)
    with contextlib.suppress(ActionRefused):  # no code in the second reply: keep the first's
        part = _code(fixed_reply)
    fixed = whole(part)
    gutted = _gutted(old, fixed)
    if gutted is not None:
        raise ActionRefused(f"the edit was refused, twice: {gutted}; nothing was changed")
    still = _syntax_error(fixed, save_name)
    if still is None:
        return fixed, "", part
    return fixed, f"\n\nWarning: {save_name} does not compile: {still}", part


def _gutted(old: str, new: str) -> str | None:
    """Code that keeps less than a third of a file of some length is a failed edit, not one
    the instruction asked for (the instruction says to return the complete file)."""
    before, after = len(old.splitlines()), len(new.splitlines())
    if before >= MIN_LINES_TO_GUT and after < before / 3:
        return f"your code has {after} line(s) where the file had {before}; return all of it"
    return None


def _same_code(old: str, new: str, name: str) -> bool:
    """Two different texts of one Python script that parse to the same code: an edit of its
    layout or comments only, which cannot change a run."""
    if old == new or not name.endswith(".py"):
        return False
    try:
        return ast.dump(ast.parse(old)) == ast.dump(ast.parse(new))
    except (SyntaxError, ValueError):
        return False


def _syntax_error(code: str, name: str) -> str | None:
    """Python's complaint about `code`, in one line, for .py files; None if it compiles."""
    if not name.endswith(".py"):
        return None
    try:
        compile(code, name, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"{type(exc).__name__} at line {exc.lineno}: {exc.msg}"
    except ValueError as exc:  # NUL bytes in the source
        return str(exc)
    return None


def _reflection(
    worker: LLMWorker, log: ResearchLog, research_problem: str, args: Mapping[str, Any]
) -> str:
    prompt = TEMPLATES.get_template("worker_reflection.j2").render(
        research_problem=research_problem.strip(),
        research_log=log.for_prompt(),
        things_to_reflect_on=str(args["things_to_reflect_on"]),
    )
    return worker.ask(REFLECTION_PROFILE, prompt).strip()


def _append_summary(log: ResearchLog, args: Mapping[str, Any]) -> str:
    """Programmatic, as in the paper: the planner's own words go into the log."""
    content = str(args["content"]).strip()
    if not content:
        raise ActionRefused("content is empty; give the summary to append")
    log.append(content)
    return "Successfully appended to the research log."


def _retrieval(worker: LLMWorker, log: ResearchLog, args: Mapping[str, Any]) -> str:
    found = retrieve(worker, log, str(args["current_plan"]))
    return found or "The research log is empty: nothing has been recorded in it yet."


def _text(path: Path, name: str) -> str:
    """A file's text for a worker's prompt; binary files are refused, not sent to a model."""
    if path.is_dir():
        raise WorkspaceError(f"{name} is a directory, not a file")
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise ActionRefused(f"{name} is a binary file of {len(data):,} bytes; it cannot be read")
    return data.decode("utf-8", errors="replace")


def _parts(text: str) -> list[_Part]:
    """Line-aligned parts of at most CHUNK_CHARS; a longer single line is cut into pieces."""
    parts: list[_Part] = []
    lines: list[str] = []
    size = start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if lines and size + len(line) > CHUNK_CHARS:
            parts.append(_Part(start, number - 1, "\n".join(lines)))
            lines, size = [], 0
        if len(line) > CHUNK_CHARS:
            pieces = range(0, len(line), CHUNK_CHARS)
            parts.extend(_Part(number, number, line[i : i + CHUNK_CHARS]) for i in pieces)
            continue
        if not lines:
            start = number
        lines.append(line)
        size += len(line) + 1
    if lines:
        parts.append(_Part(start, start + len(lines) - 1, "\n".join(lines)))
    return parts


def _check_fits(worker: LLMWorker, text: str, what: str) -> None:
    """Refuse, before paying, an edit whose rewrite cannot fit in the worker's reply."""
    limit = worker.max_tokens * _CHARS_PER_TOKEN
    if len(text) > limit:
        raise ActionRefused(
            f"{what} is {len(text):,} characters, too long for the editor to rewrite in one "
            f"reply (at most about {limit:,}); use Edit Script Segment (AI) on a smaller range"
        )


def _code(reply: str) -> str:
    """The last closed fenced block of the reply (any language tag), ending in a newline.

    An empty block is code too: it deletes a segment (or empties a file, which the diff shows).
    """
    blocks = _FENCE.findall(reply)
    if not blocks:
        raise ActionRefused(
            "the edit produced no code: the reply held no complete ```python block (it may "
            "have been cut off by the token limit); nothing was changed"
        )
    code: str = blocks[-1]
    return code if code.endswith("\n") or not code else code + "\n"


def _saved(name: str, save_name: str, old: str, new: str) -> str:
    """MLAgentBench's edit observation: where the edit was saved, and the diff to check."""
    diff = "\n".join(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), fromfile=name, tofile=save_name, lineterm=""
        )
    )
    shown = truncate_middle(diff, MAX_DIFF_CHARS) if diff else NO_CHANGE
    return (
        f"The edited file is saved to {save_name}. Here is the diff, please check if the edit "
        f"is correct and desirable:\n\n{shown}"
    )
