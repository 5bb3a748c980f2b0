"""`budgetml models list|pull`: see which embedded local models are here, and fetch them."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from budgetml.console import output_console
from budgetml.errors import BudgetMLError
from budgetml.llm.model_registry import (
    DEFAULT_MODELS,
    REGISTRY,
    get_model,
    is_present,
    model_path,
    pull,
)
from budgetml.llm.model_registry import Progress as ModelProgress

models_app = typer.Typer(
    help="Embedded local models (GGUF, run by llama.cpp): list them and pull them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = output_console()

ROLES = {
    DEFAULT_MODELS[0]: "default planner, workers",
    DEFAULT_MODELS[1]: "default cascade top, expert",
}


@models_app.command("list")
def list_models() -> None:
    """List the registered local models, their default roles and whether they are pulled."""
    table = Table("name", "size", "role", "present", "path")
    for name, model in REGISTRY.items():
        present = is_present(name)
        table.add_row(
            name,
            f"{model.size_bytes / 1e6:,.0f} MB",
            ROLES.get(name, "—"),
            "[green]yes[/]" if present else "no",
            str(model_path(name)),
        )
    console.print(table)


@models_app.command("pull")
def pull_models(
    names: Annotated[
        list[str] | None, typer.Argument(help="models to pull (default: the default models)")
    ] = None,
    all_models: Annotated[bool, typer.Option("--all", help="pull every registered model")] = False,
) -> None:
    """Download and verify models (SHA-256); ones already pulled are left as they are."""
    if names and all_models:
        raise BudgetMLError("give model names or --all, not both")
    chosen = list(REGISTRY) if all_models else names or list(DEFAULT_MODELS)
    for name in chosen:
        get_model(name)  # an unknown name stops the command before anything is downloaded
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bars:
        for name in chosen:
            start, was_present = time.monotonic(), is_present(name)
            task = bars.add_task(name, total=get_model(name).size_bytes)
            path = pull(name, _show_on(bars, task))
            bars.remove_task(task)
            how = "already present" if was_present else f"{time.monotonic() - start:.1f} s"
            console.print(f"[green]✓[/] {name} → {path} (SHA-256 verified, {how})", soft_wrap=True)


def _show_on(bars: Progress, task: TaskID) -> ModelProgress:
    def show(description: str, completed: int, total: int | None) -> None:
        bars.update(task, description=description, completed=completed, total=total)

    return show
