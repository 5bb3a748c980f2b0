"""How each configuration behaved, counted from its runs' traces: where agents fail, and why.

Table 2 says whether runs succeeded; this table says what the agents did on the way, per run
on average: steps taken, steps that repeated the step before, unusable replies, climbs, expert
calls, script edits, script runs that failed, context trims, and how runs ended; and how often
a climb for a repeat changed the step it was called for (the cascade's answer to loops); and
how often the best-scoring step came before the last one, and by how much.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from budgetml.agents.history import script_ran_cleanly
from budgetml.agents.planner import REFUSALS
from budgetml.bench.report import ReportRun
from budgetml.run_dir import RunDir
from budgetml.summary import RunSummary
from budgetml.trace import (
    ContextTrimmed,
    Escalation,
    Event,
    FormatFailure,
    RunEnd,
    StepDone,
    last,
    of_kind,
)

EDIT_ACTIONS = frozenset({"Edit Script (AI)", "Edit Script Segment (AI)", "Write File"})


@dataclass(frozen=True)
class RunBehaviour:
    steps: int
    repeats: int
    """Steps whose action and input equal the previous step's."""
    format_failures: int
    """Replies that could not be used: unreadable, or an action or value not offered."""
    refused_replies: int
    """Well-formed replies refused for a known result or an existing file (NotOffered)."""
    escalations: int
    expert_calls: int
    edits: int
    failed_script_runs: int
    context_trims: int
    final_answer: bool
    status: str
    repeat_climbs: int = 0
    repeat_climbs_changing: int = 0
    """Climbs for a repeat whose step then differed from the step before (action or input)."""


def run_behaviour(events: Sequence[Event]) -> RunBehaviour:
    """What one run's trace events say it did."""
    steps = of_kind(events, StepDone)
    pairs = zip(steps, steps[1:], strict=False)
    end = last(events, RunEnd)
    climbs, changing = _repeat_climbs(events)
    failures = of_kind(events, FormatFailure)
    return RunBehaviour(
        steps=len(steps),
        repeats=sum(1 for a, b in pairs if _act(a) == _act(b)),
        format_failures=sum(1 for f in failures if not _refused(f)),
        refused_replies=sum(1 for f in failures if _refused(f)),
        escalations=len(of_kind(events, Escalation)),
        expert_calls=sum(1 for s in steps if s.action.startswith("Request Help")),
        edits=sum(1 for s in steps if s.action in EDIT_ACTIONS),
        failed_script_runs=sum(1 for s in steps if _failed_script_run(s)),
        context_trims=len(of_kind(events, ContextTrimmed)),
        final_answer=any(s.action == "Final Answer" for s in steps),
        status=end.status if end else "unfinished",
        repeat_climbs=climbs,
        repeat_climbs_changing=changing,
    )


def _repeat_climbs(events: Sequence[Event]) -> tuple[int, int]:
    """(climbs for a repeat, those whose step then changed); a climb in a step that never
    completed (the run ended there) counts as not changing it."""
    climbs = changing = 0
    climbed, last = False, None
    for event in events:
        if isinstance(event, Escalation) and event.reason.startswith("repeat"):
            climbs, climbed = climbs + (not climbed), True
        elif isinstance(event, StepDone):
            changing += climbed and _act(event) != last
            climbed, last = False, _act(event)
    return climbs, changing


@dataclass(frozen=True)
class ConfigBehaviour:
    config: str
    runs: int
    per_run: dict[str, float]
    repeat_share: float
    ended: dict[str, int]
    repeat_climbs: int = 0
    repeat_climbs_changing: int = 0
    best_earlier: int = 0
    """Runs whose best score came before their last step (and beat it, or the last was invalid)."""
    best_gain: float | None = None
    """Their mean best improvement minus last improvement, in points (where both are known)."""
    last_invalid: int = 0
    """Of those, the runs whose last step could not be scored."""

    def best_text(self) -> str:
        gain = "" if self.best_gain is None else f", +{100 * self.best_gain:.1f} pts"
        invalid = f", {self.last_invalid} with the last invalid" if self.last_invalid else ""
        return f"{self.best_earlier} of {self.runs}{gain}{invalid}"

    def cells(self) -> list[str]:
        """The row as shown, one text per HEADER column."""
        return [
            self.config,
            str(self.runs),
            *(f"{self.per_run[key]:.1f}" for key in COLUMNS),
            f"{100 * self.repeat_share:.0f}%",
            f"{self.repeat_climbs_changing} of {self.repeat_climbs}",
            self.best_text(),
            ", ".join(f"{status} {n}" for status, n in self.ended.items()),
        ]


COLUMNS = {
    "steps": "steps",
    "format_failures": "unusable replies",
    "refused_replies": "refused replies",
    "escalations": "climbs",
    "expert_calls": "expert calls",
    "edits": "edits",
    "failed_script_runs": "failed script runs",
    "context_trims": "context trims",
}


HEADER = (
    "config",
    "runs",
    *COLUMNS.values(),
    "steps repeating the last",
    "repeat climbs that changed the step",
    "best before the last step",
    "ended",
)


def behaviour_by_config(runs: Sequence[ReportRun]) -> list[ConfigBehaviour]:
    """One row per configuration over its finished runs that left a trace."""
    by_config: dict[str, list[RunBehaviour]] = {}
    summaries: dict[str, list[RunSummary]] = {}
    for run in runs:
        layout = RunDir(run.run_dir)
        if run.summary is not None and layout.trace.is_file():
            by_config.setdefault(run.config, []).append(run_behaviour(layout.events()))
            summaries.setdefault(run.config, []).append(run.summary)
    rows = []
    for config, seen in sorted(by_config.items()):
        earlier = [s for s in summaries[config] if s.best_before_last]
        gains = [
            s.best_improvement - s.improvement
            for s in earlier
            if s.best_improvement is not None and s.improvement is not None
        ]
        steps = sum(b.steps for b in seen)
        ended: dict[str, int] = {}
        for b in seen:
            ended[b.status] = ended.get(b.status, 0) + 1
        rows.append(
            ConfigBehaviour(
                config=config,
                runs=len(seen),
                per_run={key: sum(getattr(b, key) for b in seen) / len(seen) for key in COLUMNS},
                repeat_share=sum(b.repeats for b in seen) / steps if steps else 0.0,
                ended=dict(sorted(ended.items())),
                repeat_climbs=sum(b.repeat_climbs for b in seen),
                repeat_climbs_changing=sum(b.repeat_climbs_changing for b in seen),
                best_earlier=len(earlier),
                best_gain=sum(gains) / len(gains) if gains else None,
                last_invalid=sum(1 for s in earlier if s.score is None),
            )
        )
    return rows


def behaviour_markdown(rows: Sequence[ConfigBehaviour]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    lines += [
        "",
        "Per run on average, from each finished run's trace.jsonl. Unusable replies: replies "
        "the parser could not read, or naming an action or value not offered; refused "
        "replies: well-formed replies refused for a result already known (the same action "
        "and input failed or changed nothing, and nothing changed since) or for a copy onto "
        "an existing file, after which the step's next try is not offered that action; climbs: "
        "escalations up the cascade; edits: Edit Script (AI), "
        "Edit Script Segment (AI) and Write File steps; failed script runs: Execute Script "
        "steps that did not exit cleanly (an exception, a timeout, a missing file); context "
        "trims: prompts sent again with fewer shown steps; steps repeating the last: steps "
        "with the same action and input as the step before, as a share of all steps; repeat "
        "climbs that changed the step: steps climbed for a repeat whose action or input then "
        "differed from the step before, of all such steps (over all runs); best before the "
        "last step: runs whose best-scoring step came before the last step and beat it (or "
        "the last step could not be scored), with how much better the best was on average, "
        "in points of improvement over the baseline (where both were valid).",
    ]
    return "\n".join(lines) + "\n"


def write_behaviour(folder: Path, runs: Sequence[ReportRun]) -> Path:
    path = folder / "behaviour.md"
    path.write_text(behaviour_markdown(behaviour_by_config(runs)), encoding="utf-8")
    return path


def _act(step: StepDone) -> tuple[str, str]:
    return step.action, repr(step.action_input)


def _refused(failure: FormatFailure) -> bool:
    return failure.error.endswith(REFUSALS)


def _failed_script_run(step: StepDone) -> bool:
    return step.action == "Execute Script" and not script_ran_cleanly(step.action, step.observation)
