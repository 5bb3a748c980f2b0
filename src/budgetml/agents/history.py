"""What a planner's history says: which steps changed files, which runs were clean, what was
tried and failed, and each step as one line. Step options and the step guide read it; so the
offered actions follow from the history alone, and a resumed or replayed run offers the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from budgetml.agents.parser import IGNORED_NOTE_START, PlannerReply
from budgetml.env.workspace import NO_CHANGE


@dataclass(frozen=True)
class Step:
    """One finished step, as the planner sees it in its short-term memory."""

    number: int
    reply: PlannerReply
    observation: str


EXECUTE = "Execute Script"
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
CLEAN_RUN = "The script has been executed."
"""How an Execute Script observation starts when the script exited with 0 (env/actions.py)."""


def is_action(step: Step, action: str) -> bool:
    return step.reply.action == action


SAME_CODE = "(no changes to the code: only blank lines, spacing or comments differ)"
"""How an edit that left a Python script's code as it was reads (agents/workers.py): nothing
was saved (traces: the 0.5B's edits of titanic's train.py removed one blank line, three times
in 24 steps, each then run for the same score)."""


def changed_files(step: Step) -> bool:
    """The step's action changed a file and says it did (an error or an empty edit did not)."""
    if step.reply.action not in CHANGES_FILES:
        return False
    observation = step.observation
    return not observation.startswith("Error") and not changed_nothing(observation)


def changed_nothing(observation: str) -> bool:
    return NO_CHANGE in observation or SAME_CODE in observation


def ran_cleanly(step: Step) -> bool:
    return script_ran_cleanly(step.reply.action, step.observation)


def script_ran_cleanly(action: str, observation: str) -> bool:
    """An Execute Script step whose script exited with 0 (its observation, after the parser's
    one-line note on dropped keys if any, starts as env/actions.py words a clean run)."""
    return action == EXECUTE and action_output(observation).startswith(CLEAN_RUN)


def action_output(observation: str) -> str:
    """A step's observation without the parser's one-line note on dropped keys, if any: what
    the action itself returned."""
    if observation.startswith(IGNORED_NOTE_START):
        return observation.partition("\n")[2]
    return observation


def target(step: Step) -> str:
    """The file a changing step wrote."""
    inputs = step.reply.action_input
    for key in ("save_name", "destination", "file_name", "script_name"):
        if key in inputs:
            return str(inputs[key])
    return ""


def since_last_change(history: Sequence[Step]) -> list[Step]:
    changes = [i for i, s in enumerate(history) if changed_files(s)]
    return list(history[changes[-1] + 1 :] if changes else history)


State = frozenset[tuple[str, int]]
"""What the workspace's changed files hold: (file, the step whose change it holds now); a file
as it was at the start is not in it, so the start is the empty state."""


def states(history: Sequence[Step]) -> list[State]:
    """The state after each step. An undo takes its file back to the change before, as the
    workspace's undo stack does, so the edits undone since a run leave the state of that run."""
    changes: dict[str, list[int]] = {}
    after: list[State] = []
    for step in history:
        _apply(changes, step)
        after.append(frozenset((name, stack[-1]) for name, stack in changes.items() if stack))
    return after


def _apply(changes: dict[str, list[int]], step: Step) -> None:
    """Push the step's change onto its file's stack, or pop it for an undo."""
    if changed_files(step):
        stack = changes.setdefault(target(step), [])
        if not is_action(step, "Undo Edit Script"):
            stack.append(step.number)
        elif stack:
            stack.pop()


def failed_change(history: Sequence[Step]) -> str:
    """The script the last step ran and failed on, if undoing its last change gives it back a
    version that ran cleanly (other files may have changed since: a copy made on the way does
    not count); "" otherwise. Traces: in 23 recorded runs the 1.5B's fixes of its failed edits
    ran 0 of 11 times, its fresh edits 6 of 24 (benchmarks/recorded_steps.py)."""
    if not history or not is_action(history[-1], EXECUTE) or ran_cleanly(history[-1]):
        return ""
    name = str(history[-1].reply.action_input.get("script_name"))
    changes: dict[str, list[int]] = {}
    versions = []  # the change `name` holds after each step (0: as it was at the start)
    for step in history:
        _apply(changes, step)
        versions.append(changes[name][-1] if changes.get(name) else 0)
    stack = changes.get(name)
    if not stack:
        return ""
    undone = stack[-2] if len(stack) > 1 else 0
    clean = any(
        ran_cleanly(s) and s.reply.action_input.get("script_name") == name and version == undone
        for s, version in zip(history, versions, strict=True)
    )
    return name if clean else ""


def tested_change(history: Sequence[Step]) -> bool:
    """The workspace holds a change and a script ran cleanly on it as it is now (traces: budget
    on titanic undid its one edit, ran the starter again and gave the final answer at the
    baseline's score, with 11 steps left)."""
    after = states(history)
    now = after[-1] if after else frozenset()
    return bool(now) and any(
        ran_cleanly(s) and a == now for s, a in zip(history, after, strict=True)
    )


def undoable(history: Sequence[Step]) -> frozenset[str]:
    """Files with a change left to undo (traces: the 0.5B asked for Undo Edit Script three times
    with nothing to undo)."""
    after = states(history)
    return frozenset(name for name, _ in after[-1]) if after else frozenset()


def failed_runs_in_a_row(history: Sequence[Step]) -> int:
    """Execute Script steps that failed since the last clean run (looks between them aside)."""
    count = 0
    for step in reversed(history):
        if ran_cleanly(step):
            break
        count += is_action(step, EXECUTE)
    return count


READ_ONLY = "is read-only for this task"
"""How a refused write to a read-only path reads (env/workspace.py): no change lifts it."""


def same_input(step: Step, action: str, action_input: dict[str, object]) -> bool:
    """The step took `action` with this very input, or with the input its step line shows
    (long texts cut short), which a planner may copy."""
    earlier = step.reply.action_input
    return step.reply.action == action and action_input in (earlier, shown_input(earlier))


def known_error(history: Sequence[Step], action: str, action_input: dict[str, object]) -> int:
    """The step that took this very action, with this input, since the last change and got an
    error or changed nothing, or at any time was refused a read-only path (0: none): doing it
    again does the same. An input copied from that step's line (its long texts cut short) is
    the same input. (Traces: the 0.5B copied a file onto the folder `data/` step after step,
    sent one edit instruction five times in a row, each edit changing nothing, and copied
    data/train.csv into the read-only data/ after every one of its edits, 7 times in 30 steps.)"""
    since = {step.number for step in since_last_change(history)}
    for step in reversed(history):
        if not same_input(step, action, action_input):
            continue
        error = step.observation.startswith("Error")
        if (error and READ_ONLY in step.observation) or (
            step.number in since and (error or changed_nothing(step.observation))
        ):
            return step.number
    return 0


EDITS = frozenset({"Edit Script (AI)", "Edit Script Segment (AI)"})


def failed_edit(history: Sequence[Step], action: str, action_input: dict[str, object]) -> int:
    """The last step that made this very edit of the script as it is now and failed (0: none):
    the edit gave an error or changed nothing, or the script's next run, before another change
    to it, failed. (Traces: budget on titanic sent "Change the model to a different one and the
    settings to improve the accuracy" to the starter four times, each edit failing at the same
    column join when run and undone; the 1.5B asked to "Add the 'fare' column" of one script
    three times, each run failing on the column the data lacks.)"""
    if action not in EDITS:
        return 0
    after = states(history)
    name = str(action_input.get("script_name"))
    now = _holds(after[-1] if after else frozenset(), name)
    for index in range(len(history) - 1, -1, -1):
        step = history[index]
        if not same_input(step, action, action_input):
            continue
        before = _holds(after[index - 1] if index else frozenset(), name)
        if before == now and _edit_failed(history[index:], name):
            return step.number
    return 0


def _holds(state: State, name: str) -> int:
    """The step whose change file `name` holds in `state` (0: as it was at the start)."""
    return next((number for file, number in state if file == name), 0)


def _edit_failed(steps: Sequence[Step], name: str) -> bool:
    """`steps[0]`, an edit of `name`, failed: an error, no change, or its next run failed."""
    edit = steps[0]
    if edit.observation.startswith("Error") or changed_nothing(edit.observation):
        return True
    run = next_run(steps[1:], name)
    return run is not None and not ran_cleanly(run)


def next_run(steps: Iterable[Step], name: str) -> Step | None:
    """The first run of script `name` in `steps`, if it comes before a change to the script."""
    for step in steps:
        if is_action(step, EXECUTE) and step.reply.action_input.get("script_name") == name:
            return step
        if changed_files(step) and target(step) == name:
            return None
    return None


def known_lines(history: Sequence[Step], action_input: dict[str, object]) -> int:
    """The step that showed these very lines with Inspect Script Lines, with no step since
    that could have changed the file (a script run, a change to it); 0: none (traces: budget's
    0.5B inspected line 34 of train.py in two steps in a row)."""
    name = str(action_input.get("script_name"))
    for step in reversed(history):
        if (
            is_action(step, "Inspect Script Lines")
            and step.reply.action_input == action_input
            and not step.observation.startswith("Error")
        ):
            return step.number
        if may_change(step, name):
            return 0
    return 0


def may_change(step: Step, name: str) -> bool:
    """The step could have changed file `name`: a script may write any file; a change writes
    its target."""
    return is_action(step, EXECUTE) or (changed_files(step) and target(step) == name)


SHOWN_VALUE_CHARS = 100
"""Longest input value a step line shows; a longer one is cut, its quotes kept."""


def shown_input(action_input: dict[str, object]) -> dict[str, object]:
    """An action input as a step line shows it: each long text cut short inside its quotes,
    so the line's JSON stays closed (traces: with the JSON cut mid-string, the 1.5B wrote its
    next edit instruction as the line's own text, "... Use the same features... -> The edited
    file is saved to train.py. Here is the diff ...", outcome and all)."""
    return {
        key: value[: SHOWN_VALUE_CHARS - 1] + "…"
        if isinstance(value, str) and len(value) > SHOWN_VALUE_CHARS
        else value
        for key, value in action_input.items()
    }


def describe_step(step: Step) -> str:
    """One line for the list of steps so far: the action, its input, the start of its result."""
    inputs = json.dumps(shown_input(step.reply.action_input), ensure_ascii=False)
    return f"Step {step.number}: {step.reply.action} {inputs} -> {_outcome(step)}"


def _outcome(step: Step) -> str:
    """What came of a step, in a few words: for a script, how it ended and its last line."""
    text = step.observation.strip()
    if is_action(step, EXECUTE):
        head = text.partition(" Here is the output:")[0]
        lines = [line.strip() for line in text.splitlines()[1:] if line.strip()]
        tail = " | ".join(lines[-2:])
        return f"{head} {tail[-200:]}".strip()
    first = " ".join(text.split())
    return first[:160] + ("..." if len(first) > 160 else "")
