"""`budgetml init-task`: turn a folder into a task folder, asking for what is missing."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from budgetml.console import output_console
from budgetml.env.project import Project, write_task_folder
from budgetml.env.sandbox import Sandbox
from budgetml.env.task import load_task

console = output_console()


def init_task(
    path: Annotated[Path, typer.Argument(help="the project folder to turn into a task")],
    out: Annotated[
        Path | None, typer.Option(help="where to write the task (default PATH-task)")
    ] = None,
    goal: Annotated[str | None, typer.Option(help="what the agent should improve")] = None,
    eval_command: Annotated[
        str | None, typer.Option("--eval", help="shell command that prints the score")
    ] = None,
    metric: Annotated[str | None, typer.Option(help="name of the score, e.g. accuracy")] = None,
    higher_is_better: Annotated[
        bool | None,
        typer.Option(
            "--higher-is-better/--lower-is-better",
            help="direction (default: guessed from the metric's name)",
            show_default=False,
        ),
    ] = None,
    starter: Annotated[
        str | None, typer.Option(help="script the agent runs first, e.g. train.py (optional)")
    ] = None,
    check: Annotated[
        bool, typer.Option(help="run the evaluation command once on the copy to check it")
    ] = True,
) -> None:
    """Write an MLAgentBench-style task folder for PATH (asks for anything not given)."""
    project = Project(
        path=path,
        goal=goal or typer.prompt("What should the agent improve? (the goal, in words)"),
        eval_command=eval_command
        or typer.prompt("Shell command, run in the project folder, that prints the score"),
        metric=metric or typer.prompt("Name of the score", default="score"),
        higher_is_better=higher_is_better,
        starter_script=starter,
    )
    destination = out or path.expanduser().resolve().with_name(f"{path.resolve().name}-task")
    task = load_task(write_task_folder(project, destination))
    better = "higher" if task.spec.higher_is_better else "lower"
    console.print(f"wrote {destination} ({task.spec.metric}, {better} is better)")
    if check:
        with tempfile.TemporaryDirectory(prefix="budgetml-init-") as scratch:
            score = task.score(task.env_dir, Sandbox(Path(scratch)), sys.executable)
        if score.value is None:
            console.print(
                f"[red]the evaluation command does not score the project yet:[/] {score.error}"
            )
            raise typer.Exit(1)
        console.print(f"the unchanged project scores {task.spec.metric} = {score.value:g}")
    console.print(f"next: budgetml run {destination}")
