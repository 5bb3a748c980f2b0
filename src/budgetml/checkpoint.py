"""Checkpoints: after each complete step, the workspace is saved and the step is marked done.

`checkpoints/step-N/` holds the workspace as step N left it. A file whose size and modification
time match the previous snapshot's copy is a hard link to it, so a snapshot costs only what the
step changed; files in a snapshot are never written to. The two newest snapshots are kept: if
the last `checkpoint` line was torn after all, the one before it is still there. Step 0 has no
folder: it is a fresh copy of the task's `env/`.

A `checkpoint` event is written once its snapshot is durable (fsynced and renamed into place);
it carries what the trace cannot otherwise tell: lifelines used, the undo stacks and the size
of the research log. `resume.py` goes back to the last such event.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from budgetml.agents.cascade import Lifelines
from budgetml.env.workspace import Workspace
from budgetml.run_dir import RunDir
from budgetml.trace import Checkpoint, Trace


@dataclass
class Checkpoints:
    """Marks steps done; `last` is the step whose snapshot is on disk (0: none yet)."""

    run_dir: RunDir
    trace: Trace
    workspace: Workspace
    lifelines: Lifelines
    last: int = 0

    def latest(self) -> Path | None:
        """The newest snapshot on disk (None before step 1's): what new copies link to."""
        return self.run_dir.snapshot(self.last) if self.last > 0 else None

    def save(self, step: int, extra: Mapping[str, Any] | None = None) -> None:
        """Snapshot the workspace and record the step done; `extra` goes into the event
        (the scores so far, scorekeeper.py)."""
        folder = self.run_dir.snapshot(step)
        if step > 0:
            take_snapshot(self.workspace.root, folder, self.latest())
        log = self.run_dir.research_log
        self.trace.write(
            Checkpoint(
                step=step,
                snapshot=folder.relative_to(self.run_dir.root).as_posix() if step > 0 else None,
                lifelines_used=self.lifelines.used,
                undo=self.workspace.undo_state(),
                research_log_bytes=log.stat().st_size if log.is_file() else 0,
                **(extra or {}),
            )
        )
        keep_only(self.run_dir, (self.last, step))
        self.last = step


def keep_only(run_dir: RunDir, steps: tuple[int, ...]) -> None:
    """Remove every snapshot but those of `steps` (older ones, any a killed run left half-made,
    and on resume any it made after the checkpoint resumed from)."""
    folder = run_dir.checkpoints
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name not in {f"step-{step}" for step in steps}:
            remove_tree(entry)


def take_snapshot(workspace: Path, target: Path, previous: Path | None) -> None:
    """Copy `workspace` to `target`, linking files unchanged since `previous`; durable on return."""
    partial = target.with_name(target.name + ".partial")
    remove_tree(partial)
    remove_tree(target)
    _copy_tree(workspace, partial, previous)
    os.replace(partial, target)
    _fsync_dir(target.parent)


def restore_workspace(source: Path | Callable[[Path], None], workspace: Path) -> None:
    """Replace `workspace` by a snapshot folder's content (copied, so the snapshot stays as it
    is), or by what a function (the task's fresh copy of env/) makes there."""
    remove_tree(workspace)
    if isinstance(source, Path):
        shutil.copytree(source, workspace, symlinks=True)
    else:
        source(workspace)


def remove_tree(path: Path) -> None:
    """Remove a file or folder, even one a script made unwritable; a missing one is fine."""

    def make_writable_and_retry(function: Callable[..., Any], name: str, _: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), stat.S_IRWXU)
            os.chmod(name, stat.S_IRWXU)
        with contextlib.suppress(FileNotFoundError):
            function(name)

    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=make_writable_and_retry)


def _copy_tree(source: Path, target: Path, previous: Path | None) -> None:
    target.mkdir(parents=True)
    with os.scandir(source) as entries:
        for entry in entries:
            destination = target / entry.name
            earlier = previous / entry.name if previous is not None else None
            try:
                if entry.is_symlink():
                    os.symlink(os.readlink(entry.path), destination)
                elif entry.is_dir():
                    keep = earlier if earlier is not None and earlier.is_dir() else None
                    _copy_tree(Path(entry.path), destination, keep)
                elif entry.is_file():
                    _copy_file(Path(entry.path), destination, earlier)
            except PermissionError:
                continue  # a file a script made unreadable cannot be saved, by us or anyone
    _fsync_dir(target)


def _copy_file(source: Path, destination: Path, earlier: Path | None) -> None:
    if earlier is not None and _unchanged(source, earlier):
        try:
            os.link(earlier, destination)
            return
        except OSError:
            pass  # a file system without hard links: copy instead
    shutil.copy2(source, destination)
    with open(destination, "rb") as handle:
        os.fsync(handle.fileno())


def _unchanged(source: Path, earlier: Path) -> bool:
    try:
        now, then = source.stat(), earlier.lstat()
    except OSError:
        return False
    return stat.S_ISREG(then.st_mode) and (now.st_size, now.st_mtime_ns) == (
        then.st_size,
        then.st_mtime_ns,
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
