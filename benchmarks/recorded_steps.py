"""Recorded runs read again under this commit's step rules, with no model call: how many of
their steps this commit would not have offered, so a rule built from one trace is counted on
every finished run before it is run anew.

It counts, per run: Execute Script steps, and those whose result this commit holds known
(`known_runs`: the workspace as it was at an earlier run of that script); Final Answer steps,
and those given with no tested change in place (`tested_change`); edits, and those whose diff
changed only blank lines or comments (which this commit does not save; a diff cut short, or
a change of spacing inside a line, is not counted), and those that repeat an edit of the same
script that failed (which this commit samples afresh); Inspect Script Lines steps, and those
that showed what an earlier one with the same input showed (which this commit refuses); and
saved edits whose instruction names a key an earlier failed run's KeyError said was missing
(which nothing refuses yet), and how many of those ran; and saved edits whose added code (the
diff's added lines, comments left out) quotes such a key, whatever the instruction said, and
how many of those ran; and edits whose instruction copies the prompt's own wording
(textutil.COPY_CHARS characters in a row of the run's first planner prompt, its research problem
left out, which an instruction may quote), and how many of those changed the script and ran. The
counts are upper bounds on the steps saved: a step not offered is replaced by another, which
the trace cannot show.

    .venv/bin/python benchmarks/recorded_steps.py experiments/results/embedded-team*
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from budgetml.agents.history import (
    EDITS,
    EXECUTE,
    Step,
    changed_files,
    failed_change,
    failed_edit,
    is_action,
    next_run,
    ran_cleanly,
    target,
    tested_change,
)
from budgetml.agents.step_options import known_runs
from budgetml.env.actions import FINAL_ANSWER
from budgetml.resume import recorded_step
from budgetml.run_dir import RunDir
from budgetml.textutil import copied_passage
from budgetml.trace import Event, LlmCall, StepDone

PROBLEM_START, PROBLEM_END = "Research problem:\n", "\n\nThese are the actions"
"""Around the research problem in planner_instructions.j2."""

COUNTS = (
    "steps",
    "runs",
    "known runs",
    "final answers",
    "untested",
    "edits",
    "layout-only edits",
    "failed edits again",
    "inspections",
    "lines shown again",
    "after a failed change",
    "not undone",
    "fixes",
    "fixes that ran",
    "fresh edits",
    "fresh edits that ran",
    "asking for a missing key",
    "missing-key edits that ran",
    "writing a missing key",
    "writing one that ran",
    "copied instructions",
    "copied ones that ran",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweeps", type=Path, nargs="+", help="sweep folders (with runs/)")
    args = parser.parse_args()
    totals = dict.fromkeys(COUNTS, 0)
    print("| run | " + " | ".join(COUNTS) + " |")
    print("|---" * (len(COUNTS) + 1) + "|")
    for run_dir in _run_dirs(args.sweeps):
        events = RunDir(run_dir).events()
        history = [recorded_step(e) for e in events if isinstance(e, StepDone)]
        counts = count(history, _wording(events))
        totals = {key: totals[key] + counts[key] for key in COUNTS}
        print(f"| {run_dir} | " + " | ".join(str(counts[key]) for key in COUNTS) + " |")
    print("| **all** | " + " | ".join(str(totals[key]) for key in COUNTS) + " |")


def count(history: Sequence[Step], wording: str = "") -> dict[str, int]:
    """The counts of one run; `wording`: the prompt's fixed text an instruction may copy."""
    counts = dict.fromkeys(COUNTS, 0)
    counts["steps"] = len(history)
    for index, step in enumerate(history):
        before = history[:index]
        if failed_change(before):
            counts["after a failed change"] += 1
            counts["not undone"] += not is_action(step, "Undo Edit Script")
        if is_action(step, EXECUTE):
            script = str(step.reply.action_input.get("script_name"))
            counts["runs"] += 1
            counts["known runs"] += script in known_runs(before)
        elif is_action(step, FINAL_ANSWER):
            counts["final answers"] += 1
            counts["untested"] += not tested_change(before)
        elif is_action(step, "Inspect Script Lines") and not step.observation.startswith("Error"):
            counts["inspections"] += 1
            counts["lines shown again"] += any(
                is_action(s, "Inspect Script Lines")
                and s.reply.action_input == step.reply.action_input
                and s.observation == step.observation
                for s in before
            )
        elif step.reply.action in EDITS:
            counts["edits"] += 1
            counts["layout-only edits"] += layout_only(step.observation)
            counts["failed edits again"] += bool(
                failed_edit(before, step.reply.action, step.reply.action_input)
            )
            instruction = str(step.reply.action_input.get("edit_instruction", ""))
            copied = bool(wording) and bool(copied_passage(instruction, wording))
            counts["copied instructions"] += copied
            if changed_files(step):
                ran = _next_run_clean(history[index + 1 :], target(step))
                counts["copied ones that ran"] += copied and ran
                kind = "fixes" if _fixes(before, target(step)) else "fresh edits"
                counts[kind] += 1
                counts[f"{kind} that ran"] += ran
                missing = _missing_keys(before)
                if _names_a_missing_key(missing, step):
                    counts["asking for a missing key"] += 1
                    counts["missing-key edits that ran"] += ran
                if _writes_a_missing_key(missing, step):
                    counts["writing a missing key"] += 1
                    counts["writing one that ran"] += ran
    return counts


def _wording(events: Sequence[Event]) -> str:
    """The last message of the run's first planner call, its research problem cut out: the
    instructions and action descriptions every prompt of the run opens with."""
    call = next((e for e in events if isinstance(e, LlmCall) and e.agent == "planner"), None)
    if call is None or not call.messages:
        return ""
    prompt = call.messages[-1]["content"]
    head, _, rest = prompt.partition(PROBLEM_START)
    _, _, tail = rest.partition(PROBLEM_END)
    return head + tail if tail else prompt


def _names_a_missing_key(missing: set[str], edit: Step) -> bool:
    """The edit's instruction names, as a word, a key that an earlier failed run's KeyError
    said was missing (traces: "Add the 'fare' column" after `KeyError: "['fare'] not in
    index"`, on titanic, whose data has no such column)."""
    instruction = str(edit.reply.action_input.get("edit_instruction", "")).lower()
    return any(re.search(rf"\b{re.escape(key.lower())}\b", instruction) for key in missing)


def _writes_a_missing_key(missing: set[str], edit: Step) -> bool:
    """The code of a line the edit's diff added quotes, exactly, a key that an earlier failed run's
    KeyError said was missing: the code itself asks for it, whatever the instruction said
    (traces: told "Remove the 'Fireplace_Quantity', ... columns", the ames editor wrote them
    into the feature list)."""
    added = [  # the code of each added line, its comment (from the first #) left out
        line.partition("#")[0]
        for line in edit.observation.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    return any(f"'{key}'" in line or f'"{key}"' in line for key in missing for line in added)


def _missing_keys(before: Sequence[Step]) -> set[str]:
    """The keys the KeyErrors of the failed runs in `before` named."""
    return {
        key
        for step in before
        if is_action(step, EXECUTE) and not ran_cleanly(step)
        for line in step.observation.splitlines()
        if line.startswith("KeyError")
        for key in re.findall(r"'([^']+)'", line)
    } - {"str", "object"}  # the dtype in "Index(['fare'], dtype='str')"


def _fixes(before: Sequence[Step], name: str) -> bool:
    """The last step that ran or changed script `name` is a run of it that failed."""
    run = next_run(reversed(before), name)
    return run is not None and not ran_cleanly(run)


def _next_run_clean(after: Sequence[Step], name: str) -> bool:
    """The next run of script `name`, before another change to it, ran cleanly."""
    run = next_run(after, name)
    return run is not None and ran_cleanly(run)


def layout_only(observation: str) -> bool:
    """A whole diff (not cut short) whose changed lines are all blank or comments."""
    if "--- " not in observation or "[..." in observation:
        return False
    changed = [
        line[1:].strip()
        for line in observation.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return bool(changed) and all(not line or line.startswith("#") for line in changed)


def _run_dirs(sweeps: Sequence[Path]) -> Iterator[Path]:
    for sweep in sweeps:
        summaries = sweep.glob("runs/*/*/seed-*/summary.json")  # finished; not seed-N.attemptK
        yield from sorted(p.parent for p in summaries if p.parent.name[5:].isdigit())


if __name__ == "__main__":
    main()
