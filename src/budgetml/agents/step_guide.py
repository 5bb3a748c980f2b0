"""The step guide (`guide_steps`): a workflow a weak planner is held to, through the actions a
step offers. The first step runs a script; after a change to a script the next step runs it
(or revises it); after a run that failed on a change to a script that had run cleanly, an undo
of it; after any other failed run, a fix or a look (Undo once a fix has failed too); after
LOOK_LIMIT steps that changed nothing, a change. Traces: the 0.5B listed folders and copied
files for 15 steps without editing, never ran the starter; the 1.5B's fixes of its own failed
edits never ran (0 of 11), some of its fresh edits did (6 of 24).
"""

from __future__ import annotations

from collections.abc import Sequence

from budgetml.agents.history import (
    EXECUTE,
    Step,
    changed_files,
    failed_change,
    failed_runs_in_a_row,
    is_action,
    ran_cleanly,
    since_last_change,
)
from budgetml.env.actions import FINAL_ANSWER

LOOK_LIMIT = 3
FIX_TRIES_BEFORE_UNDO = 2
"""Failed runs in a row before Undo is offered, when undoing would not go back to a clean run
(a starter that fails, a chain of changes that never ran cleanly): a fix is tried first."""
UNDO = frozenset({"Undo Edit Script"})
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


def guide(history: Sequence[Step]) -> tuple[frozenset[str], str] | None:
    """The actions the planner is held to now, and why; None: no restriction."""
    if not any(is_action(s, EXECUTE) for s in history):
        return frozenset({EXECUTE}), "not yet: first run the starter script to see what it does"
    if history and changed_files(history[-1]) and history[-1].reply.action != "Copy File":
        return TEST_OR_REVISE, (
            "not now: the last step changed a script; run it (or revise it) to see the effect"
        )
    if history and is_action(history[-1], EXECUTE) and not ran_cleanly(history[-1]):
        script = failed_change(history)
        if script:
            return UNDO, (
                f"not now: the last run failed on a change to {script}, which ran cleanly "
                "before it; undo the change, then try another"
            )
        if failed_runs_in_a_row(history) < FIX_TRIES_BEFORE_UNDO:
            return FIX - {"Undo Edit Script"}, (
                "not now: the last run failed; fix the script (its error is above) or look into it"
            )
        return FIX, "not now: the last run failed; fix the script, undo the change or look into it"
    if len(since_last_change(history)) >= LOOK_LIMIT:
        return CHANGE, (
            f"not now: {LOOK_LIMIT} steps in a row changed nothing; change the script (or "
            "undo a change), or give the final answer once a change has run cleanly"
        )
    return None
