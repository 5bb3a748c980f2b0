"""The run directory: where each part of a run's record lives, and reading that record back.

    config.yaml       the run's config, every default filled in
    trace.jsonl       the typed events (trace.py)
    summary.json      what the run achieved and cost, once it has ended (summary.py)
    workspace/        the agent's files; backups/ holds its undo copies
    checkpoints/      the workspace after the last complete steps (checkpoint.py)
    best/step-N/      the best-scoring workspace so far (scorekeeper.py)
    start/            the workspace as the agent got it, for `budgetml diff` (handback.py)
    research_log.md   the research log of retrieval runs (agents/memory.py)
    scratch/          the sandbox's HOME and temporary folders
    .lock             held by the process working in the directory

This is the only module that names these; everything else asks a `RunDir`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from budgetml.config import RunConfig, parse_recorded_config
from budgetml.env.task import Task, find_task, load_task
from budgetml.errors import BudgetMLError, TaskError
from budgetml.summary import RunSummary
from budgetml.trace import Event, RunStart, last, read_events

SUMMARY_FILE = "summary.json"
"""What a finished run leaves; reports find run directories by it."""


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def trace(self) -> Path:
        return self.root / "trace.jsonl"

    @property
    def summary(self) -> Path:
        return self.root / SUMMARY_FILE

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def best_dir(self) -> Path:
        return self.root / "best"

    @property
    def start(self) -> Path:
        return self.root / "start"

    @property
    def research_log(self) -> Path:
        return self.root / "research_log.md"

    @property
    def scratch(self) -> Path:
        return self.root / "scratch"

    def snapshot(self, step: int) -> Path:
        """The workspace as step `step` left it (checkpoint.py)."""
        return self.checkpoints / f"step-{step}"

    def best(self, step: int) -> Path:
        """The best-scoring workspace, if step `step` scored best (scorekeeper.py)."""
        return self.best_dir / f"step-{step}"

    def best_steps(self) -> list[int]:
        """The steps whose best workspace is kept, oldest first."""
        names = [p.name for p in self.best_dir.glob("step-*")] if self.best_dir.is_dir() else []
        return sorted(int(name[5:]) for name in names if name[5:].isdigit())

    def made_by_the_run(self) -> tuple[Path, ...]:
        """Everything a run makes after its config and trace: what starting over removes."""
        return (
            self.workspace,
            self.backups,
            self.checkpoints,
            self.best_dir,
            self.start,
            self.scratch,
            self.research_log,
        )

    # Reading the record back.

    def events(self, *, superseded: bool = False) -> list[Event]:
        """The trace's events (none when there is no trace yet); see `read_events`."""
        return read_events(self.trace, superseded=superseded) if self.trace.is_file() else []

    def read_config(self) -> RunConfig:
        if not self.config.is_file():
            raise BudgetMLError(f"{self.root} is not a run directory: it has no config.yaml")
        return parse_recorded_config(
            self.config.read_text("utf-8", errors="replace"), str(self.config)
        )

    def read_summary(self) -> RunSummary | None:
        """The run's summary if it has ended, else None."""
        try:
            return RunSummary.model_validate_json(self.summary.read_bytes())
        except (OSError, ValueError):
            return None

    def write_summary(self, summary: RunSummary) -> None:
        """Atomically, so a kill never leaves a half-written summary."""
        partial = self.summary.with_suffix(".json.partial")
        partial.write_text(json.dumps(summary.model_dump(), indent=2) + "\n", encoding="utf-8")
        os.replace(partial, self.summary)

    def is_unfinished(self) -> bool:
        """A run started here and has not ended (killed, or still going)."""
        return self.trace.is_file() and not self.summary.is_file()

    # Taking the directory.

    def claim(self, config: RunConfig) -> None:
        """Make the directory for a new run and write its config; refuse a directory that is a
        file or holds anything."""
        try:
            if self.root.exists() and not self.root.is_dir():
                raise BudgetMLError(f"run directory {self.root} is a file; pick another --out")
            if self.root.exists() and any(self.root.iterdir()):
                hint = f"continue it with --resume {self.root}, or " if self.is_unfinished() else ""
                raise BudgetMLError(
                    f"run directory {self.root} already exists and is not empty; {hint}pick --out"
                )
            self.root.mkdir(parents=True, exist_ok=True)
            self.config.write_text(config.to_yaml(), encoding="utf-8")
        except OSError as exc:
            raise BudgetMLError(
                f"cannot use {self.root} as the run directory: {exc.strerror}"
            ) from None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the directory for this process: a second run or resume there is refused.
        The OS drops the lock when the process ends, however it ends."""
        fd = os.open(self.root / ".lock", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise BudgetMLError(
                f"{self.root} is in use by another budgetml process; wait for it to end"
            ) from None
        try:
            yield
        finally:
            os.close(fd)


def started(events: list[Event]) -> RunStart | None:
    """The run's `run_start` event (a run that started over has more than one: the last)."""
    return last(events, RunStart)


def recorded_task(start: RunStart, *, fall_back_to_builtin: bool = False) -> Task:
    """The task a run recorded, with the direction it ran in. With `fall_back_to_builtin`, a
    task folder that is gone (a run from another checkout or machine) is the built-in task of
    the same name."""
    folder = Path(start.task_dir)
    try:
        if fall_back_to_builtin and not folder.is_dir():
            task = find_task(start.task)
        else:
            task = load_task(folder)
    except TaskError as exc:
        raise TaskError(f"the run's task cannot be loaded any more: {exc}") from None
    return task.with_direction(start.higher_is_better)
