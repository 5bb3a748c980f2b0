"""Which recorded runs of the sweep a96858b's cascade rule reaches: the steps where a level's
tries ended without a usable reply while one of those tries was refused for what it chose.

At b4dfcae a level got m tries, one more if any was refused (`NotOffered`); since a96858b a
refusal that strikes a new action costs no try. The new rule allows at least as many tries at
every point, and both take the first usable reply, so a level that got a usable reply at
b4dfcae gets the same one now (same prompts, same seeded samples). Only a level that gave up
with a refusal among its tries can go another way: a climb for format, the run's error, or a
last try refused so that an earlier reply was kept (a repeat, or the cheap level's reply after
a decisive climb). A run with no such step is the run a96858b makes; the others are run again.

    .venv/bin/python experiments/embedded-team/refusal_fix_reach.py \
        experiments/results/embedded-team
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REFUSALS = (
    "already exists; name a new file",
    "and nothing has changed since; do something else",
)
"""How planner.py words its refusals (EXISTS, KNOWN)."""


def gave_up_with_a_refusal(events: list[dict[str, object]]) -> bool:
    """One step's events: a run of refused planner calls that ends in a give-up."""
    refused: list[str] = []  # the problems of the refused calls in a row so far
    calls = [
        e
        for e in events
        if e["event"] in ("format_failure", "escalation", "error")
        or (e["event"] == "llm_call" and e["agent"] == "planner")  # workers' calls come after
    ]
    for index, event in enumerate(calls):
        if event["event"] == "llm_call":
            following = calls[index + 1] if index + 1 < len(calls) else None
            if following is None or following["event"] != "format_failure":
                refused = []  # a usable reply: this level's tries ended well
                continue
            refused.append(str(following["error"]))
            rest = calls[index + 2 :]
            gave_up = not any(e["event"] == "llm_call" for e in rest) or (
                bool(rest)
                and (
                    rest[0]["event"] == "error"
                    or (
                        rest[0]["event"] == "escalation"
                        and str(rest[0]["reason"]).startswith("format")
                    )
                )
            )
            if gave_up and any(r in p for p in refused for r in REFUSALS):
                return True
        elif event["event"] == "escalation":
            refused = []
    return False


def reached_steps(trace: Path) -> list[int]:
    steps: list[int] = []
    events: list[dict[str, object]] = []
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        events.append(event)
        if event["event"] in ("step", "error"):
            if gave_up_with_a_refusal(events):
                steps.append(int(event["step"]))
            events = []
    return steps


def main() -> None:
    sweep = Path(sys.argv[1])
    for summary in sorted(sweep.glob("runs/*/*/seed-*/summary.json")):
        if not summary.parent.name[5:].isdigit():
            continue  # seed-N.attemptK: a lost attempt
        steps = reached_steps(summary.parent / "trace.jsonl")
        verdict = f"reached at step(s) {steps}" if steps else "not reached"
        print(f"{summary.parent.relative_to(sweep / 'runs')}: {verdict}")


if __name__ == "__main__":
    main()
