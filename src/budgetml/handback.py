"""Hand a run's result back: what the agent changed, as a unified diff or copied into a folder.

A run keeps what it started from in `start/` (the fresh workspace's text files, written once
at set-up), so a diff or an apply stays right however the task folder changes afterwards. Only
files that an action of the agent wrote are handed back (Write File, Edit Script, Copy File,
...): data and what its scripts wrote (outputs, caches) are left out, and so are binary files
and files over 1 MB.
"""

from __future__ import annotations

import difflib
import os
import posixpath
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from budgetml.env.project import SKIPPED
from budgetml.errors import BudgetMLError
from budgetml.run_dir import RunDir
from budgetml.trace import StepDone, of_kind

MAX_BYTES = 1024**2
WRITES = {
    "Write File": "file_name",
    "Append File": "file_name",
    "Copy File": "destination",
    "Edit Script (AI)": "save_name",
    "Edit Script Segment (AI)": "save_name",
    "Undo Edit Script": "script_name",
}
"""Actions that write a file, and the input naming it."""


@dataclass(frozen=True)
class Change:
    path: str
    """Relative to the workspace, with forward slashes."""
    before: bytes | None
    """None: a new file."""
    after: bytes
    mode: int


@dataclass(frozen=True)
class Handback:
    """The changes of one workspace of a run (the final one or the best) against its start."""

    run_dir: Path
    source: Path
    what: str
    """E.g. "the best workspace (step 6, accuracy 0.71)", for the user."""
    changes: tuple[Change, ...]
    left_out: tuple[str, ...]
    """Files the agent wrote that are not handed back, each with the reason."""


def keep_start(run_dir: RunDir) -> None:
    """Copy the fresh workspace's text files to `start/`, durably (a partial copy is redone)."""
    workspace, target = run_dir.workspace, run_dir.start
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    for folder, dirs, files in os.walk(workspace):
        dirs[:] = [d for d in dirs if d not in SKIPPED]
        for name in files:
            path = Path(folder) / name
            if path.is_symlink() or _text(path) is None:
                continue
            copy = partial / path.relative_to(workspace)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)
    partial.mkdir(exist_ok=True)
    os.replace(partial, target)


def handback(run_dir: Path, best: bool = False) -> Handback:
    """What the run changed in its final workspace, or in its best-scoring one."""
    layout = RunDir(run_dir)
    if not layout.trace.is_file() or not layout.workspace.is_dir():
        raise BudgetMLError(
            f"{run_dir} is not a run directory (no {layout.trace.name} or {layout.workspace.name}/)"
        )
    if not layout.start.is_dir():
        raise BudgetMLError(
            f"{run_dir} keeps no copy of what it started from ({layout.start.name}/): it was "
            "made by an older BudgetML; compare its workspace/ with the task's env/ by hand"
        )
    steps = of_kind(layout.events(), StepDone)
    source, step, what = _chosen(layout, best, len(steps))
    written: dict[str, None] = {}
    for event in steps:
        key = WRITES.get(event.action)
        if key and event.step <= step and key in event.action_input:
            written[posixpath.normpath(str(event.action_input[key]))] = None
    changes, left_out = [], []
    for name in written:
        after_path = source / name
        if set(Path(name).parts) & set(SKIPPED):
            continue
        if not after_path.is_file():
            left_out.append(f"{name} (not in {what} any more)")
            continue
        after = _text(after_path)
        if after is None:
            left_out.append(f"{name} (binary or over {MAX_BYTES // 1024**2} MB)")
            continue
        start = layout.start / name
        before = start.read_bytes() if start.is_file() else None
        if before != after:
            changes.append(Change(name, before, after, after_path.stat().st_mode & 0o777))
    return Handback(run_dir, source, what, tuple(changes), tuple(left_out))


def unified_diff(changes: Sequence[Change]) -> str:
    """A patch `git apply` and `patch -p1` take: a/ is the start, b/ the workspace."""
    parts = []
    for change in changes:
        before = [] if change.before is None else _lines(change.before)
        old = "/dev/null" if change.before is None else f"a/{change.path}"
        lines = difflib.unified_diff(before, _lines(change.after), old, f"b/{change.path}")
        parts.append(f"diff --git a/{change.path} b/{change.path}\n")
        if change.before is None:
            parts.append(f"new file mode 100{change.mode:o}\n")
        for line in lines:
            ends = line.endswith("\n")
            parts.append(line if ends else line + "\n\\ No newline at end of file\n")
    return "".join(parts)


def apply_changes(result: Handback, folder: Path) -> list[str]:
    """Write the changed files into `folder`; the names written (already there: not written).

    Refuses, writing nothing, when a file there differs from what the run started from."""
    if not folder.is_dir():
        raise BudgetMLError(f"{folder} is not a folder; --to names the folder to write into")
    todo = []
    for change in result.changes:
        target = folder / change.path
        now = target.read_bytes() if target.is_file() else None
        if now == change.after:
            continue
        if now != change.before:
            how = "is new there" if change.before is None else "changed since the run started"
            if change.before is not None and now is None:
                how = "was removed since the run started"
            raise BudgetMLError(
                f"{target} {how}; nothing written (see `budgetml diff {result.run_dir}`)"
            )
        todo.append((target, change))
    for target, change in todo:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(change.after)
        os.chmod(partial, change.mode)
        os.replace(partial, target)
    return [change.path for _, change in todo]


def _chosen(run_dir: RunDir, best: bool, steps: int) -> tuple[Path, int, str]:
    """(folder, step, description) of the workspace asked for."""
    summary = run_dir.read_summary()
    if not best:
        return run_dir.workspace, steps, f"the final workspace (step {steps})"
    if summary is not None:
        if summary.best_step is None:
            raise BudgetMLError(
                f"{run_dir.root}: no step of the run got a valid score, so there is no best "
                "workspace"
            )
        step, value = summary.best_step, f"{summary.metric} {summary.best_score:.6g}"
    else:  # a run still going (or killed): its newest kept best
        kept = run_dir.best_steps()
        if not kept:
            raise BudgetMLError(f"{run_dir.root} has no best workspace yet")
        step, value = kept[-1], "the run has not finished"
    folder = run_dir.best(step)
    if not folder.is_dir():
        raise BudgetMLError(f"the best workspace of {run_dir.root} ({folder}) is missing")
    return folder, step, f"the best workspace (step {step}, {value})"


def _text(path: Path) -> bytes | None:
    """The file's bytes if it is text of at most MAX_BYTES."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        data = path.read_bytes()
        data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return None if b"\0" in data else data


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8").splitlines(keepends=True)
