"""The consoles the command line prints with."""

from __future__ import annotations

from typing import Any

from rich.console import Console

PIPE_WIDTH = 10_000
"""Off a terminal rich assumes 80 columns and cuts table cells ("qwen2.5-coder-0…"); a pipe or a
file has no width, so whole names and values are kept (a table is only as wide as it needs)."""


def output_console(**options: Any) -> Console:
    """A console for stdout (or stderr with stderr=True) that never cuts text when its stream is
    not a terminal."""
    console = Console(**options)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    return console
