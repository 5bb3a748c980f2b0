"""`budgetml bench` and `budgetml report`: parse arguments, call budgetml.bench, print."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from budgetml.bench.executors import Executor, LocalExecutor, RayExecutor
from budgetml.bench.experiment import Experiment, load_experiment
from budgetml.bench.progress import RichProgress
from budgetml.bench.report import dollars
from budgetml.bench.report_html import write_report
from budgetml.bench.reproduce import checks_markdown, reproduce_cells
from budgetml.bench.store import RunKey
from budgetml.bench.sweep import plan_sweep, run_sweep
from budgetml.console import output_console
from budgetml.errors import BudgetMLError
from budgetml.provenance import code_commit
from budgetml.replay import ReplayResult

console = output_console()
errors = output_console(stderr=True, soft_wrap=True)


class ExecutorKind(StrEnum):
    local = "local"
    ray = "ray"


def bench(
    tasks: Annotated[
        str | None,
        typer.Option(help="comma-separated built-in task names or folders; 'all' = built-ins"),
    ] = None,
    configs: Annotated[
        str | None, typer.Option(help="comma-separated preset names or YAML files")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="the sweep folder; rerun to resume it")] = None,
    runs: Annotated[
        int | None, typer.Option(min=1, help="runs (seeds 0..N-1) per task and config")
    ] = None,
    experiment: Annotated[
        Path | None,
        typer.Option(help="YAML naming tasks, configs, runs and out; flags given win"),
    ] = None,
    executor: Annotated[
        ExecutorKind, typer.Option(help="local worker processes, or Ray tasks")
    ] = ExecutorKind.local,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="runs at once (default: 1 locally, every CPU on Ray)"),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(help="a running Ray cluster ('auto', 'ray://host:10001'); default: local"),
    ] = None,
    budget_usd: Annotated[
        float | None,
        typer.Option(min=0, help="cap in USD on what all runs in the sweep folder charge"),
    ] = None,
) -> None:
    """Run every task × config × seed as an isolated run; results in OUT/results.sqlite."""
    if ray_address and executor is not ExecutorKind.ray:
        raise BudgetMLError("--ray-address needs --executor ray")
    defined = load_experiment(experiment) if experiment else Experiment()
    task_names = _split(tasks) if tasks else defined.tasks
    config_names = _split(configs) if configs else defined.configs
    out = out or defined.out
    if not task_names or not config_names or out is None:
        raise BudgetMLError("bench needs --tasks, --configs and --out (or an --experiment file)")
    specs = plan_sweep(task_names, config_names, runs or defined.runs)
    pool: Executor = (
        RayExecutor(ray_address, workers)
        if executor is ExecutorKind.ray
        else LocalExecutor(workers or 1)
    )
    errors.print(
        f"[bold]BudgetML bench[/] {len(specs)} runs on {pool.slots} {executor.value} "
        f"worker(s) → {out}",
        highlight=False,
    )
    with RichProgress(errors) as progress:
        outcome = run_sweep(specs, out, pool, budget_usd, progress)
    written = write_report(out)
    _print_table(out)
    console.print(
        f"{outcome.finished}/{outcome.total} runs finished, {outcome.successes} succeeded; "
        f"the sweep folder has charged {dollars(outcome.spent_usd)} · "
        + ", ".join(str(path) for path in written),
        highlight=False,
    )
    if outcome.not_started:
        errors.print(
            f"{outcome.not_started} run(s) not started: the sweep budget (--budget-usd) cannot "
            "cover their cap; rerun with a larger one to start them",
            highlight=False,
        )
    if outcome.crashed:
        raise BudgetMLError(
            f"{outcome.crashed} run(s) crashed (see the crash column of {out}/results.sqlite); "
            "rerun the same command to retry them"
        )


def report(
    folder: Annotated[Path, typer.Argument(help="a bench folder, or a folder of run directories")],
) -> None:
    """Write table.md, table.csv and an offline report.html for a sweep or a folder of runs."""
    written = write_report(folder)
    _print_table(folder)
    console.print("written: " + ", ".join(str(path) for path in written), highlight=False)


def reproduce(
    folder: Annotated[Path, typer.Argument(help="a `budgetml bench` folder")],
    tasks: Annotated[str | None, typer.Option(help="comma-separated tasks (default: all)")] = None,
    configs: Annotated[
        str | None, typer.Option(help="comma-separated config labels (default: all)")
    ] = None,
    scratch: Annotated[
        Path | None, typer.Option(help="where replays are written (default: FOLDER/replays)")
    ] = None,
) -> None:
    """Rerun finished runs from their recorded replies (no model calls); compare every cell."""
    target = scratch or folder / "replays"

    made_by: set[str | None] = set()

    def show(key: RunKey, result: ReplayResult) -> None:
        made_by.add(result.original_code)
        same = "same actions" if result.same_actions else "[red]DIVERGED[/]"
        errors.print(
            f"· {key}: {same}, success {result.original.success} → {result.replayed.success}",
            highlight=False,
        )

    checks = reproduce_cells(
        folder, target, _split(tasks or ""), _split(configs or ""), on_run=show
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    written = folder / "reproduced.md"
    replaying = code_commit()
    if made_by - {replaying}:
        errors.print(
            f"note: the runs were made by other code ({', '.join(sorted(map(str, made_by)))}) "
            f"than this replay ({replaying}); a difference may come from the code",
            highlight=False,
        )
    written.write_text(checks_markdown(checks, when, replaying, made_by), encoding="utf-8")
    console.print(written.read_text(encoding="utf-8"), markup=False, highlight=False)
    failed = [check for check in checks if not check.reproduced]
    if failed:
        raise BudgetMLError(
            f"{len(failed)} of {len(checks)} cell(s) did not reproduce (see {written}); the "
            f"replays are in {target}"
        )
    console.print(
        f"all {len(checks)} cell(s) reproduced ({written}); replays in {target}", highlight=False
    )


def _print_table(folder: Path) -> None:
    table = (folder / "table.md").read_text(encoding="utf-8")
    console.print(table, markup=False, highlight=False, soft_wrap=True)


def _split(items: str) -> list[str]:
    return [item.strip() for item in items.split(",") if item.strip()]
