"""Rerun a sweep's finished runs from their recorded model replies and compare each cell.

The check behind a published table: a cell's success rate and mean cost (paid and free tier),
recomputed from replays that call no model, must equal what the sweep recorded. A replay runs
the agents' actions again for real (scripts, scoring), so a result that depended on something
other than the models' replies shows up here as a difference.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from budgetml.bench.store import ResultStore, RunKey, RunRecord
from budgetml.bench.sweep import RESULTS_FILE
from budgetml.errors import BudgetMLError
from budgetml.replay import ReplayResult, replay_run
from budgetml.summary import RunSummary

COST_TOLERANCE_USD = 1e-9
"""Costs are summed from the same recorded per-call costs; only float rounding may differ."""


@dataclass(frozen=True)
class CellNumbers:
    runs: int
    successes: int
    mean_cost_usd: float
    mean_cost_usd_free_tier: float

    def matches(self, other: CellNumbers) -> bool:
        return (
            (self.runs, self.successes) == (other.runs, other.successes)
            and abs(self.mean_cost_usd - other.mean_cost_usd) <= COST_TOLERANCE_USD
            and abs(self.mean_cost_usd_free_tier - other.mean_cost_usd_free_tier)
            <= COST_TOLERANCE_USD
        )


@dataclass(frozen=True)
class CellCheck:
    task: str
    config: str
    recorded: CellNumbers
    replayed: CellNumbers
    diverged: int
    """Replays whose actions differ from the recorded run's."""

    @property
    def reproduced(self) -> bool:
        return self.diverged == 0 and self.recorded.matches(self.replayed)


def reproduce_cells(
    folder: Path,
    scratch: Path,
    tasks: Collection[str] = (),
    configs: Collection[str] = (),
    on_run: Callable[[RunKey, ReplayResult], None] = lambda key, result: None,
) -> list[CellCheck]:
    """Replay every finished run of the chosen cells (all when none are named) into `scratch`."""
    results = folder / RESULTS_FILE
    if not results.is_file():
        raise BudgetMLError(f"{folder} has no {RESULTS_FILE}: it is not a `budgetml bench` folder")
    with contextlib.closing(ResultStore(results, read_only=True)) as store:
        chosen = [
            record
            for record in store.records()
            if record.state == "finished"
            and (not tasks or record.key.task in tasks)
            and (not configs or record.key.config in configs)
        ]
    if not chosen:
        raise BudgetMLError(f"{folder} has no finished run in the chosen cells")
    cells: dict[tuple[str, str], list[tuple[RunRecord, ReplayResult]]] = {}
    for record in chosen:
        target = scratch / record.run_dir
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        result = replay_run(folder / record.run_dir, target)
        on_run(record.key, result)
        cells.setdefault((record.key.task, record.key.config), []).append((record, result))
    return [_check(task, config, runs) for (task, config), runs in sorted(cells.items())]


def _check(task: str, config: str, runs: list[tuple[RunRecord, ReplayResult]]) -> CellCheck:
    return CellCheck(
        task=task,
        config=config,
        recorded=_numbers([record.summary for record, _ in runs if record.summary is not None]),
        replayed=_numbers([result.replayed for _, result in runs]),
        diverged=sum(1 for _, result in runs if not result.same_actions),
    )


def _numbers(summaries: Sequence[RunSummary]) -> CellNumbers:
    runs = len(summaries)
    return CellNumbers(
        runs=runs,
        successes=sum(1 for s in summaries if s.success),
        mean_cost_usd=sum(s.cost_usd for s in summaries) / runs,
        mean_cost_usd_free_tier=sum(s.cost_usd_free_tier for s in summaries) / runs,
    )


def checks_markdown(
    checks: list[CellCheck], when: str, code: str | None, made_by: Collection[str | None]
) -> str:
    """The comparison as a Markdown table, with when and by which code it was made; a replay
    by other code than the runs' may differ because of the code, not the models."""
    made = ", ".join(sorted(c or "unrecorded" for c in set(made_by))) or "unrecorded"
    lines = [
        f"Replayed from the recorded replies on {when} by BudgetML at commit {code or 'unknown'};"
        f" the runs were made at commit {made}.",
        "",
        "| task | config | runs | successes (recorded → replayed) | $/run | $/run (free tier) "
        "| actions diverged | reproduced |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for check in checks:
        was, now = check.recorded, check.replayed
        lines.append(
            f"| {check.task} | {check.config} | {was.runs} | {was.successes} → {now.successes} "
            f"| {was.mean_cost_usd:.6f} → {now.mean_cost_usd:.6f} "
            f"| {was.mean_cost_usd_free_tier:.6f} → {now.mean_cost_usd_free_tier:.6f} "
            f"| {check.diverged} | {'yes' if check.reproduced else 'NO'} |"
        )
    return "\n".join(lines) + "\n"
