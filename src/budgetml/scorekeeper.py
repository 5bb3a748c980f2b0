"""Scoring as the run goes: which steps are scored, the best score so far and its workspace.

The last step's score stays the success rule (MLAgentBench's and the paper's); scoring earlier
steps too means an agent that improved the model and then broke it still leaves the improvement.
A step is scored when it changed a file of the workspace (eval.py reads nothing else) or ran a
script cleanly (a run can be what is scored, a timing say). A task whose scoring is slow says
`score_during_run: false` in task.yaml; then only the last step is scored.

The best-scoring workspace is kept in `best/step-N/`, linked to the latest checkpoint's files
where they are unchanged (checkpoint.py). A newer best is written beside the older one, and the
older one is removed only once a checkpoint (or the summary) records the newer: a resumed run
finds the best its checkpoint names.

A timed task whose baseline BudgetML measures is judged at the end on measurements taken in
turn (env/timing.py): the unchanged starter, the final workspace and, when an earlier step was
the best, the best one. The load of a shared machine changes within a run, so a baseline
measured at the start would let the load decide success.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from budgetml.agents.history import Step, ran_cleanly
from budgetml.checkpoint import remove_tree, take_snapshot
from budgetml.env.sandbox import Sandbox
from budgetml.env.scoring import Score
from budgetml.env.task import Baseline, Task
from budgetml.run_dir import RunDir
from budgetml.summary import SUCCESS_THRESHOLD
from budgetml.trace import Checkpoint, StepScored, TimedComparison, Trace

Fingerprint = frozenset[tuple[str, int, int]]


@dataclass(frozen=True)
class StepScore:
    """A step's score (value None: invalid, with the evaluation's error)."""

    step: int
    value: float | None
    error: str | None = None
    best: bool = False
    """The best score of the run so far (strictly better than every earlier one)."""


def scores_during_run(task: Task) -> bool:
    """False when the task's task.yaml says `score_during_run: false` (its scoring is slow)."""
    return task.spec.score_during_run


def fingerprint(root: Path) -> Fingerprint:
    """Every file's path, size and modification time: what a step changed, cheaply."""
    found: set[tuple[str, int, int]] = set()
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            found.add((os.path.relpath(path, root), info.st_size, info.st_mtime_ns))
    return frozenset(found)


def keep_best(run_dir: RunDir, step: int | None) -> None:
    """Remove every kept best workspace but step's (all of them for None)."""
    folder = run_dir.best_dir
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if step is None or entry.name != f"step-{step}":
            remove_tree(entry)
    if step is None:
        remove_tree(folder)


@dataclass
class Scorekeeper:
    """Scores the run's workspace after the steps that need it and keeps the best."""

    task: Task
    sandbox: Sandbox
    python: str
    run_dir: RunDir
    trace: Trace
    during_run: bool = True
    best: StepScore | None = None
    last: StepScore | None = None
    end_baseline: Baseline | None = None
    """A timed task's baseline, measured again at the end beside the final workspace."""
    _seen: Fingerprint = frozenset()

    @property
    def workspace(self) -> Path:
        return self.run_dir.workspace

    def start(self) -> None:
        """Take the workspace as it is now (made or restored) as already scored."""
        self._seen = fingerprint(self.workspace)

    def after_step(self, step: Step, linked_to: Path | None) -> StepScore | None:
        """The step's score, or None when nothing the evaluation reads changed."""
        if not self.during_run:
            return None
        now = fingerprint(self.workspace)
        if now == self._seen and not ran_cleanly(step):
            return None
        return self._score(step.number, now, linked_to, final=False)

    def final(self, step: int, linked_to: Path | None) -> StepScore:
        """The last step's score: the run's result. A timed task whose baseline BudgetML
        measures has its baseline measured again here, in turn with the final workspace (and
        the best one, when an earlier step was the best), so that all of them see the same
        load: `end_baseline`, which the final is judged against."""
        now = fingerprint(self.workspace)
        if not self.task.measured_again_at_end:
            return self._score(step, now, linked_to, final=True)
        return self._score(step, now, linked_to, final=True, result=self._measure_at_end(step))

    def _measure_at_end(self, step: int) -> Score:
        """The final workspace's score, measured in turn with the unchanged starter (and the
        best workspace); sets `end_baseline` and the best's score, and records them all."""
        starter = self.sandbox.scratch / "starter-workspace"
        shutil.rmtree(starter, ignore_errors=True)
        self.task.make_workspace(starter)
        earlier = self.best if self.best is not None and self.best.step != step else None
        if earlier is not None and not self.run_dir.best(earlier.step).is_dir():
            earlier = None
        folders = [starter, self.workspace]
        folders += [self.run_dir.best(earlier.step)] if earlier is not None else []
        try:
            baseline, final, *best = self.task.measure_in_turn(folders, self.sandbox, self.python)
        finally:
            shutil.rmtree(starter, ignore_errors=True)
        higher = self.task.spec.higher_is_better
        value = baseline.best(higher)
        noise = max(timing.spread for timing in (baseline, final, *best))
        if value is not None:
            how = self.task.describe_measurement()
            source = f"measured at the end of the run, in turn with the final workspace: {how}"
            if noise > SUCCESS_THRESHOLD:
                source += (
                    f"; the measurements varied by up to {noise:.0%} (a busy machine), so only "
                    "an improvement larger than that counts"
                )
            self.end_baseline = Baseline(value, source, noise)
        if earlier is not None:
            again = best[0].score(higher)
            self.best = StepScore(earlier.step, again.value, again.error, best=True)
        elif self.best is not None and self.best.step == step:  # scored during the run, too
            again = final.score(higher)
            self.best = StepScore(step, again.value, again.error, best=True)
        self.trace.write(
            TimedComparison(
                step=step,
                baseline=value,
                baseline_values=list(baseline.values),
                baseline_error=baseline.error,
                final=final.best(higher),
                final_values=list(final.values),
                final_error=final.error,
                best_step=earlier.step if earlier is not None else None,
                best_values=list(best[0].values) if best else None,
                noise=round(noise, 4),
            )
        )
        return final.score(higher)

    def changed(self, score: StepScore, before: StepScore | None) -> bool:
        return before is None or (score.value, score.error) != (before.value, before.error)

    def checkpoint_fields(self) -> Mapping[str, Any]:
        """What a resumed run needs back: the best so far and the last score."""
        best, last = self.best, self.last
        return {
            "best_step": best.step if best else None,
            "best_score": best.value if best else None,
            "last_score": None if last is None else [last.step, last.value, last.error],
        }

    def settle(self) -> None:
        """The best is on record now (a checkpoint or the summary): drop older kept ones."""
        keep_best(self.run_dir, self.best.step if self.best else None)

    def _score(
        self,
        step: int,
        now: Fingerprint,
        linked_to: Path | None,
        final: bool,
        result: Score | None = None,
    ) -> StepScore:
        result = result or self.task.score(self.workspace, self.sandbox, self.python)
        better = result.value is not None and (
            self.best is None
            or self.best.value is None
            or (
                result.value > self.best.value
                if self.task.spec.higher_is_better
                else result.value < self.best.value
            )
        )
        scored = StepScore(step, result.value, result.error, better)
        if better:
            take_snapshot(self.workspace, self.run_dir.best(step), linked_to)
            self.best = scored
        self.trace.write(
            StepScored(step=step, value=result.value, error=result.error, best=better, final=final)
        )
        self.last, self._seen = scored, now
        return scored


def restored(checkpoint: Checkpoint) -> tuple[StepScore | None, StepScore | None]:
    """(best, last) as a checkpoint recorded them (none for older traces)."""
    best = None
    if checkpoint.best_step is not None:
        best = StepScore(checkpoint.best_step, checkpoint.best_score, None, True)
    latest = None
    if checkpoint.last_score is not None:
        latest = StepScore(*checkpoint.last_score)
    return best, latest
