"""What a planning step may do: the actions offered now and the values their inputs may take.

A small planner re-runs a script it has not changed and copies the last reply it saw (traces:
71-88% of steps repeated the step before). So, with `skip_known_results` on, a step does not
offer an action whose result the history already holds: running a script when nothing changed
since its last run, listing or reading a file again when nothing changed since. Final Answer is
offered only once a change has been made and a script has run cleanly after it (the 0.5B
otherwise gave up at step 2 with nothing changed). File inputs are the workspace's own files,
so a reply cannot name a file that does not exist (with the switch off every input is free
text, as in the paper). Everything is derived from the history and
the workspace, so a resumed or replayed run offers exactly what the original did.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from budgetml.env.actions import FINAL_ANSWER, Action, listing

if TYPE_CHECKING:
    from budgetml.agents.planner import Step

EXECUTE = "Execute Script"
LIST = "List Files"
CHANGES_FILES = frozenset(
    {
        "Edit Script (AI)",
        "Edit Script Segment (AI)",
        "Write File",
        "Append File",
        "Copy File",
        "Undo Edit Script",
    }
)
READS_A_FILE = frozenset({"Read File", "Understand File"})
CLEAN_RUN = "The script has been executed."
MAX_FILES = 60
"""Files a file input may name (the workspace's first, shallowest); a data folder of thousands
of files would make the grammar huge, and the planner only needs the scripts and descriptions."""
MAX_DEPTH = 2

FREE_TEXT_CHARS: dict[str, int] = {
    "edit_instruction": 700,
    "things_to_look_for": 250,
    "things_to_reflect_on": 250,
    "final_answer": 400,
    "stuck_on": 300,
    "content": 4000,
    "current_plan": 300,
    "destination": 120,
    "source": 120,
    "dir_path": 120,
    "file_name": 120,
    "script_name": 120,
    "save_name": 120,
}
"""Longest value a free-text input may take: room for a precise instruction, no more (each
character under a grammar costs sampling time)."""
INTEGER_INPUTS = frozenset({"start_line_number", "end_line_number"})
EXPERT = "Request Help from a Planning Expert"
LOOK_LIMIT = 3
FIX_TRIES_BEFORE_UNDO = 2
"""Failed runs in a row before Undo is offered: an error one fix away was undone at once by the
0.5B (titanic traces), so a fix (written by the 1.5B under climb_for) is tried first."""
TEST_OR_REVISE = frozenset({EXECUTE, "Edit Script (AI)", "Edit Script Segment (AI)"})
FIX = frozenset(
    {
        "Edit Script (AI)",
        "Edit Script Segment (AI)",
        "Write File",
        "Undo Edit Script",
        "Inspect Script Lines",
        "Understand File",
        "Read File",
    }
)
CHANGE = frozenset(
    {
        "Edit Script (AI)",
        "Edit Script Segment (AI)",
        "Write File",
        "Append File",
        "Undo Edit Script",
        EXECUTE,
        FINAL_ANSWER,
    }
)


@dataclass(frozen=True)
class InputShape:
    """The values one input key may take: a choice among `choices`, a whole number, free text
    of at most `max_chars`, or the same value as key `same_as`."""

    name: str
    choices: tuple[str, ...] | None = None
    integer: bool = False
    max_chars: int = 300
    same_as: str | None = None
    not_in: tuple[str, ...] = ()
    """Values refused (checked after parsing: a grammar cannot say "not one of")."""


@dataclass(frozen=True)
class Offer:
    """One action offered at this step, with the shape of each of its inputs."""

    action: Action
    inputs: tuple[InputShape, ...]

    @property
    def name(self) -> str:
        return self.action.name


@dataclass(frozen=True)
class Withheld:
    """An action (or one input value) not offered now, and why, for the prompt."""

    what: str
    why: str


@dataclass(frozen=True)
class StepOptions:
    offers: tuple[Offer, ...]
    withheld: tuple[Withheld, ...] = ()
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(o.name for o in self.offers))

    def without(self, action_names: frozenset[str]) -> StepOptions:
        """The same options less some actions (a climb for a repeat does not offer the repeat),
        unless that would leave nothing to do."""
        kept = tuple(o for o in self.offers if o.name not in action_names)
        return StepOptions(kept, self.withheld) if kept else self


def step_options(
    actions: Sequence[Action],
    history: Sequence[Step],
    workspace: Path | None,
    *,
    skip_known_results: bool,
    guide_steps: bool = False,
) -> StepOptions:
    """The actions offered after `history`, their inputs shaped by the files in `workspace`."""
    since = _since_last_change(history)
    withheld: list[Withheld] = []
    offers: list[Offer] = []
    guided = _guide(history) if guide_steps else None
    for action in actions:
        if guided is not None and action.name not in guided[0] and action.name != EXPERT:
            withheld.append(Withheld(action.name, guided[1]))
            continue
        if workspace is None or not skip_known_results:  # the paper's: every input is free
            shapes = [_free(key) for key in action.input_names]
        else:
            files, folders = _listing(workspace)
            scripts = [f for f in files if f.endswith(".py")]
            undoable = _undoable(history)
            shapes = [
                _shape(key, action, files, scripts, folders, undoable) for key in action.input_names
            ]
        if skip_known_results:
            shapes, why = _drop_known(action, shapes, since, history, workspace)
            withheld += why
            if action.name == FINAL_ANSWER and not _tested_change(history):
                withheld.append(
                    Withheld(
                        FINAL_ANSWER,
                        "not yet: nothing has been changed and then run cleanly; the score of "
                        "an unchanged workspace is the baseline",
                    )
                )
                continue
        if any(s.choices == () for s in shapes):
            continue
        offers.append(Offer(action, tuple(shapes)))
    return StepOptions(tuple(offers), tuple(withheld))


def _guide(history: Sequence[Step]) -> tuple[frozenset[str], str] | None:
    """The actions a weak planner is held to now, and why; None: no restriction.

    After a change to a script the next step runs it or revises it; after LOOK_LIMIT steps that
    changed nothing, the next step changes something (traces: the 0.5B listed folders and
    copied files for 15 steps, never editing). Before anything else, a script is run: its
    output is what every later step builds on (the 0.5B otherwise never ran the starter)."""
    if not any(_is(s, EXECUTE) for s in history):
        return frozenset({EXECUTE}), "not yet: first run the starter script to see what it does"
    if history and changed_files(history[-1]) and history[-1].reply.action != "Copy File":
        return TEST_OR_REVISE, (
            "not now: the last step changed a script; run it (or revise it) to see the effect"
        )
    if history and _is(history[-1], EXECUTE) and not ran_cleanly(history[-1]):
        if _failed_runs_in_a_row(history) < FIX_TRIES_BEFORE_UNDO:
            return FIX - {"Undo Edit Script"}, (
                "not now: the last run failed; fix the script (its error is above) or look into it"
            )
        return FIX, "not now: the last run failed; fix the script, undo the change or look into it"
    if len(_since_last_change(history)) >= LOOK_LIMIT:
        return CHANGE, (
            f"not now: {LOOK_LIMIT} steps in a row changed nothing; change the script (or "
            "undo a change), or give the final answer once a change has run cleanly"
        )
    return None


def _failed_runs_in_a_row(history: Sequence[Step]) -> int:
    """Execute Script steps that failed since the last clean run (looks between them aside)."""
    count = 0
    for step in reversed(history):
        if ran_cleanly(step):
            break
        count += _is(step, EXECUTE)
    return count


def _shape(
    key: str,
    action: Action,
    files: list[str],
    scripts: list[str],
    folders: list[str],
    undoable: frozenset[str],
) -> InputShape:
    if key in INTEGER_INPUTS:
        return InputShape(key, integer=True)
    if action.name == EXECUTE and key == "script_name":
        return InputShape(key, choices=tuple(scripts))
    if action.name == LIST and key == "dir_path":
        return InputShape(key, choices=tuple(folders))
    if action.name == "Undo Edit Script":
        return InputShape(key, choices=tuple(f for f in files if f in undoable))
    if action.name in (*READS_A_FILE, "Inspect Script Lines") and key in (
        "file_name",
        "script_name",
    ):
        return InputShape(key, choices=tuple(files))
    if action.name in ("Edit Script (AI)", "Edit Script Segment (AI)"):
        if key == "script_name":
            return InputShape(key, choices=tuple(scripts))
        if key == "save_name":  # edited in place: the scored script is the one edited (traces)
            return InputShape(key, same_as="script_name")
    if action.name == "Copy File" and key == "source":
        return InputShape(key, choices=tuple(files))
    if action.name == "Copy File" and key == "destination":  # a copy, not an overwrite
        taken = (*files, *folders, *(f"{folder}/" for folder in folders))
        return InputShape(key, max_chars=FREE_TEXT_CHARS[key], not_in=taken)
    return _free(key)


def _free(key: str) -> InputShape:
    if key in INTEGER_INPUTS:
        return InputShape(key, integer=True)
    return InputShape(key, max_chars=FREE_TEXT_CHARS.get(key, 300))


def _drop_known(
    action: Action,
    shapes: list[InputShape],
    since: Sequence[Step],
    history: Sequence[Step],
    workspace: Path | None,
) -> tuple[list[InputShape], list[Withheld]]:
    """Remove the input values whose result the history holds: a script run after the last
    change (`since`), a folder listed or a file read after the last step that could have
    changed it (an edit of train.py changes neither the folder's listing nor the data)."""
    if action.name == EXECUTE:
        known, key = _known_runs(since), "script_name"
    elif action.name == LIST:
        known, key = _known_listings(history, workspace), "dir_path"
    elif action.name in READS_A_FILE:
        known, key = _known_reads(history, action.name, "file_name", _may_change), "file_name"
    else:
        return shapes, []
    withheld = []
    kept = []
    for shape in shapes:
        if shape.name == key and shape.choices is not None:
            dropped = [c for c in shape.choices if c in known]
            shape = InputShape(key, choices=tuple(c for c in shape.choices if c not in known))
            withheld += [
                Withheld(
                    f"{action.name} {name}",
                    f"its result is known: nothing it reads has changed since step {known[name]}",
                )
                for name in dropped
            ]
        kept.append(shape)
    return kept, withheld


def _known_reads(
    history: Sequence[Step], action: str, key: str, may_change: Callable[[Step, str], bool]
) -> dict[str, int]:
    """Values of `key` read by `action` with no step since that could have changed them."""
    known: dict[str, int] = {}
    for step in history:
        known = {value: n for value, n in known.items() if not may_change(step, value)}
        if _is(step, action) and not step.observation.startswith("Error"):
            known[str(step.reply.action_input.get(key))] = step.number
    return known


def _target(step: Step) -> str:
    """The file a changing step wrote."""
    inputs = step.reply.action_input
    for key in ("save_name", "destination", "file_name", "script_name"):
        if key in inputs:
            return str(inputs[key])
    return ""


def _may_change(step: Step, name: str) -> bool:
    """A script may write any file; a change writes its target."""
    return _is(step, EXECUTE) or (changed_files(step) and _target(step) == name)


def _known_listings(history: Sequence[Step], workspace: Path | None) -> dict[str, int]:
    """Folders whose last listing is what listing them now would show."""
    last: dict[str, Step] = {}
    for step in history:
        if _is(step, LIST) and not step.observation.startswith("Error"):
            last[str(step.reply.action_input.get("dir_path"))] = step
    known = {}
    for folder, step in last.items():
        path = (workspace / folder) if workspace is not None else None
        try:
            same = path is not None and path.is_dir() and step.observation.endswith(listing(path))
        except OSError:
            same = False
        if same:
            known[folder] = step.number
    return known


def _undoable(history: Sequence[Step]) -> frozenset[str]:
    """Files with a change left to undo (traces: the 0.5B asked for Undo Edit Script three times
    with nothing to undo)."""
    changes: dict[str, int] = {}
    for step in history:
        if not changed_files(step):
            continue
        target = _target(step)
        changes[target] = changes.get(target, 0) + (-1 if _is(step, "Undo Edit Script") else 1)
    return frozenset(name for name, count in changes.items() if count > 0)


def _known_runs(since: Sequence[Step]) -> dict[str, int]:
    """Scripts whose last run comes after the last change, unless another script ran after it
    (that one may have written what this one reads)."""
    runs = [s for s in since if _is(s, EXECUTE)]
    if not runs:
        return {}
    last = str(runs[-1].reply.action_input.get("script_name"))
    return {last: runs[-1].number}


def _since_last_change(history: Sequence[Step]) -> list[Step]:
    changes = [i for i, s in enumerate(history) if changed_files(s)]
    return list(history[changes[-1] + 1 :] if changes else history)


def known_error(history: Sequence[Step], action: str, action_input: dict[str, object]) -> int:
    """The step that took this very action, with this input, since the last change and got an
    error (0: none): doing it again gives the same error (traces: the 0.5B copied a file onto
    the folder `data/` step after step)."""
    for step in reversed(_since_last_change(history)):
        if (
            step.reply.action == action
            and step.reply.action_input == action_input
            and step.observation.startswith("Error")
        ):
            return step.number
    return 0


def changed_files(step: Step) -> bool:
    """The step's action changed a file and says it did (an error or an empty edit did not)."""
    if step.reply.action not in CHANGES_FILES:
        return False
    observation = step.observation
    return not observation.startswith("Error") and "(no changes: the content is the same)" not in (
        observation
    )


def ran_cleanly(step: Step) -> bool:
    return _is(step, EXECUTE) and CLEAN_RUN in step.observation[:400]


def _tested_change(history: Sequence[Step]) -> bool:
    """Something was changed and a script ran cleanly after the last change."""
    changes = [i for i, s in enumerate(history) if changed_files(s)]
    return bool(changes) and any(ran_cleanly(s) for s in history[changes[-1] + 1 :])


def _is(step: Step, action: str) -> bool:
    return step.reply.action == action


def _listing(root: Path) -> tuple[list[str], list[str]]:
    """Up to MAX_FILES files (shallowest first) and the folders, relative to `root`."""
    files: list[str] = []
    folders = ["."]
    level = [root]
    for _ in range(MAX_DEPTH):
        below: list[Path] = []
        for folder in level:
            try:
                entries = sorted(folder.iterdir(), key=lambda p: p.name)
            except OSError:
                continue
            for entry in entries:
                if entry.name.startswith(".") or entry.is_symlink():
                    continue
                relative = entry.relative_to(root).as_posix()
                if entry.is_dir():
                    folders.append(relative)
                    below.append(entry)
                elif entry.is_file() and len(files) < MAX_FILES:
                    files.append(relative)
        level = below
    return files, folders


def describe_step(step: Step, limit: int = 160) -> str:
    """One line for the list of steps so far: the action, its input, the start of its result."""
    inputs = json.dumps(step.reply.action_input, ensure_ascii=False)
    if len(inputs) > limit:
        inputs = inputs[: limit - 3] + "..."
    return f"Step {step.number}: {step.reply.action} {inputs} -> {_outcome(step)}"


def _outcome(step: Step) -> str:
    """What came of a step, in a few words: for a script, how it ended and its last line."""
    text = step.observation.strip()
    if _is(step, EXECUTE):
        head = text.partition(" Here is the output:")[0]
        lines = [line.strip() for line in text.splitlines()[1:] if line.strip()]
        tail = " | ".join(lines[-2:])
        return f"{head} {tail[-200:]}".strip()
    first = " ".join(text.split())
    return first[:160] + ("..." if len(first) > 160 else "")
