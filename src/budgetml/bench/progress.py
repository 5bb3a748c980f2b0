"""Live sweep progress with rich: runs done/total, successes, dollars spent, ETA.

On a terminal a bar redraws in place; elsewhere (CI logs, pipes) only one line per ended run.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from budgetml.bench.report import dollars
from budgetml.bench.store import RunRecord
from budgetml.bench.sweep import RunSpec


class RichProgress:
    """A `SweepObserver` that draws on `console` (stderr, so stdout stays for results)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress = Progress(
            TextColumn("[bold]sweep"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("· {task.fields[successes]} succeeded · {task.fields[spent]} spent ·"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self._task: TaskID | None = None
        self._successes = 0

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def sweep_started(self, total: int, done: int, successes: int, spent_usd: float) -> None:
        self._successes = successes
        self._task = self._progress.add_task(
            "sweep", total=total, completed=done, successes=successes, spent=dollars(spent_usd)
        )
        if done:
            self._console.print(f"resuming: {done} of {total} runs already finished")

    def run_started(self, spec: RunSpec, budget_usd: float | None) -> None:
        pass

    def run_ended(self, record: RunRecord, spent_usd: float) -> None:
        summary = record.summary
        if summary is None:
            outcome = f"[yellow]crashed[/]: {escape(record.crash or '')}"
        else:
            verdict = "[green]success[/]" if summary.success else "[red]no success[/]"
            outcome = f"{summary.status}, {verdict}, {dollars(summary.cost_usd)}"
        took = "" if record.duration_s is None else f" in {record.duration_s:.1f}s"
        self._console.print(f"{escape(str(record.key))}: {outcome}{took}", highlight=False)
        if summary is not None and summary.success:
            self._successes += 1
        if self._task is not None:
            self._progress.update(
                self._task, advance=1, successes=self._successes, spent=dollars(spent_usd)
            )
