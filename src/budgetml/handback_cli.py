"""`budgetml diff` and `budgetml apply`: a run's changes, shown or copied into a folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from budgetml.handback import Handback, apply_changes, handback, unified_diff

notes = Console(stderr=True, soft_wrap=True, highlight=False)

_BEST = typer.Option("--best", help="the best-scoring workspace instead of the final one")


def diff(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    best: Annotated[bool, _BEST] = False,
) -> None:
    """Print what the run changed, as a unified diff against what it started from."""
    result = handback(run_dir, best)
    _describe(result)
    sys.stdout.write(unified_diff(result.changes))


def apply(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    to: Annotated[Path, typer.Option(help="the folder to copy the changed files into")],
    best: Annotated[bool, _BEST] = False,
) -> None:
    """Copy the files the run changed into a folder (nothing else there is touched)."""
    result = handback(run_dir, best)
    _describe(result)
    written = apply_changes(result, to)
    if written:
        notes.print(f"wrote {len(written)} file(s) into {escape(str(to))}: {', '.join(written)}")
    else:
        notes.print(f"{escape(str(to))} already has every change; nothing written")


def _describe(result: Handback) -> None:
    count = len(result.changes)
    notes.print(f"[dim]{escape(result.what)}: {count} changed file(s) the agent wrote[/]")
    for reason in result.left_out:
        notes.print(f"[dim]left out: {escape(reason)}[/]")
