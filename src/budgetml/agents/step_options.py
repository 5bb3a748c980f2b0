"""What a planning step may do: the actions offered now and the values their inputs may take.

A small planner re-runs a script it has not changed and copies the last reply it saw (traces:
71-88% of steps repeated the step before). So, with `skip_known_results` on, a step does not
offer an action whose result the history already holds: running a script when nothing changed
since its last run, listing or reading a file again when nothing changed since. Final Answer is
offered only once a change has been made and a script has run cleanly after it (the 0.5B
otherwise gave up at step 2 with nothing changed). File inputs are the workspace's own files,
so a reply cannot name a file that does not exist (with the switch off every input is free
text, as in the paper). With `guide_steps` on, the step guide (step_guide.py) narrows the
actions further. Everything is derived from the history (history.py) and the workspace, so a
resumed or replayed run offers exactly what the original did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from budgetml.agents.history import (
    EXECUTE,
    Step,
    action_output,
    is_action,
    may_change,
    same_input,
    states,
    tested_change,
    undoable,
)
from budgetml.agents.step_guide import guide
from budgetml.env.actions import FINAL_ANSWER, Action, ActionRefused, inspect_lines, listing
from budgetml.textutil import shows

LIST = "List Files"
READS_A_FILE = frozenset({"Read File", "Understand File"})
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
PATH_CHARS = "A-Za-z0-9_./-"
"""The characters a new file's path may hold (a regular-expression and GBNF class body)."""
EXPERT = "Request Help from a Planning Expert"


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
    path: bool = False
    """A new file's path: PATH_CHARS only, no spaces (traces: the 0.5B copied data/train.csv
    to "data_description.txt submission.csv train.py", a line of a listing)."""


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
    unguided: Callable[[], StepOptions] | None = None
    """The options without the step guide, worked out only when every guided one is taken
    away (most steps never need them)."""
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(o.name for o in self.offers))

    def without(self, action_names: frozenset[str]) -> StepOptions:
        """The same options less some actions (a climb for a repeat does not offer the repeat);
        if that leaves nothing, those the guide held back, less them (traces: budget on ames
        ended in error at step 27, its one guided action refused 4 times as a known error),
        and only if that too leaves nothing, all of them again."""
        kept = tuple(o for o in self.offers if o.name not in action_names)
        if kept:
            return StepOptions(kept, self.withheld)
        if self.unguided is not None:
            return self.unguided().without(action_names)
        return self


def step_options(
    actions: Sequence[Action],
    history: Sequence[Step],
    workspace: Path | None,
    *,
    skip_known_results: bool,
    guide_steps: bool = False,
) -> StepOptions:
    """The actions offered after `history`, their inputs shaped by the files in `workspace`."""
    withheld: list[Withheld] = []
    offers: list[Offer] = []
    guided = guide(history) if guide_steps else None
    shaped = workspace is not None and skip_known_results
    files, folders = _listing(workspace) if shaped and workspace is not None else ([], [])
    scripts = [f for f in files if f.endswith(".py")]
    can_undo = undoable(history) if shaped else frozenset()
    for action in actions:
        if guided is not None and action.name not in guided[0] and action.name != EXPERT:
            withheld.append(Withheld(action.name, guided[1]))
            continue
        if not shaped:  # the paper's: every input is free
            shapes = [_free(key) for key in action.input_names]
        else:
            shapes = [
                _shape(key, action, files, scripts, folders, can_undo) for key in action.input_names
            ]
        if skip_known_results:
            shapes, why = _drop_known(action, shapes, history, workspace)
            withheld += why
            if action.name == FINAL_ANSWER and not tested_change(history):
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

    def unguided() -> StepOptions:
        return step_options(actions, history, workspace, skip_known_results=skip_known_results)

    return StepOptions(tuple(offers), tuple(withheld), unguided if guided is not None else None)


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
        return InputShape(key, max_chars=FREE_TEXT_CHARS[key], not_in=taken, path=True)
    return _free(key)


def _free(key: str) -> InputShape:
    if key in INTEGER_INPUTS:
        return InputShape(key, integer=True)
    return InputShape(key, max_chars=FREE_TEXT_CHARS.get(key, 300))


def _drop_known(
    action: Action,
    shapes: list[InputShape],
    history: Sequence[Step],
    workspace: Path | None,
) -> tuple[list[InputShape], list[Withheld]]:
    """Remove the input values whose result the history holds: a script run on the workspace
    as it is now, a folder listed or a file read after the last step that could have changed
    it (an edit of train.py changes neither the folder's listing nor the data)."""
    since = "nothing it reads has changed since step {}"
    if action.name == EXECUTE:
        known, key = known_runs(history), "script_name"
        since = "the workspace is as it was when it ran at step {}"
    elif action.name == LIST:
        known, key = _known_listings(history, workspace), "dir_path"
    elif action.name in READS_A_FILE:
        known, key = _known_reads(history, action.name, "file_name", may_change), "file_name"
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
                    "its result is known: " + since.format(known[name]),
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
        if is_action(step, action) and not step.observation.startswith("Error"):
            known[str(step.reply.action_input.get(key))] = step.number
    return known


def _known_listings(history: Sequence[Step], workspace: Path | None) -> dict[str, int]:
    """Folders whose last listing is what listing them now would show."""
    last: dict[str, Step] = {}
    for step in history:
        if is_action(step, LIST) and not step.observation.startswith("Error"):
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


def known_runs(history: Sequence[Step]) -> dict[str, int]:
    """The script that ran last, if the workspace is as it was at one of its runs since any
    other script ran (that one may have written what this one reads): nothing changed since,
    or the changes since were undone (traces: the 0.5B undid its edit of titanic's train.py and
    ran the starter again for its known score, three times in 24 steps)."""
    after = states(history)
    runs = [(s, a) for s, a in zip(history, after, strict=True) if is_action(s, EXECUTE)]
    if not runs:
        return {}
    now = after[-1]
    last = runs[-1][0].reply.action_input.get("script_name")
    for run, state in reversed(runs):
        if run.reply.action_input.get("script_name") != last:
            break
        if state == now:
            return {str(last): run.number}
    return {}


def shown_lines(history: Sequence[Step], action_input: dict[str, object], workspace: Path) -> int:
    """The last step that showed these very lines with Inspect Script Lines, if the file holds
    them now as it did then (0: none), whatever ran or changed since (traces: 24 of 53
    inspections in 20 recorded runs showed what one with the same input had shown before;
    budget's 0.5B read lines 1-100 of titanic's train.py after each run and each undo)."""
    for step in reversed(history):
        if not same_input(step, "Inspect Script Lines", action_input):
            continue
        observation = action_output(step.observation)
        if observation.startswith("Error"):
            continue
        path = workspace / str(action_input.get("script_name"))
        try:
            if not path.resolve().is_relative_to(workspace.resolve()) or not path.is_file():
                return 0
            now = inspect_lines(path, action_input)
        except (ActionRefused, OSError, RuntimeError, ValueError):  # a link loop, a NUL byte
            return 0
        return step.number if shows(observation, now) else 0
    return 0


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
