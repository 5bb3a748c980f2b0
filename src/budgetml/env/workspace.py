"""The only folder the agent's actions touch, with path confinement and undo backups."""

from __future__ import annotations

import fnmatch
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

NO_CHANGE = "(no changes: the content is the same)"
"""What an observation says of a write that left a file as it was (no undo step either)."""


class WorkspaceError(Exception):
    """An action asked for something the workspace refuses; the message becomes the observation."""


@dataclass
class Workspace:
    """`root` holds the agent's files; backups live outside it, in `backup_dir`, out of reach."""

    root: Path
    backup_dir: Path
    read_only: tuple[str, ...] = ()
    _backups: dict[str, list[Path | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.backup_dir.mkdir(parents=True, exist_ok=True)

    def resolve(self, relative: str) -> Path:
        """The absolute path of `relative`, refusing anything that would leave the workspace."""
        text = relative.strip()
        if not text:
            raise WorkspaceError("the path is empty; give a path relative to the workspace")
        if "\x00" in text:
            raise WorkspaceError("the path contains a NUL byte")
        posix = PurePosixPath(text.replace("\\", "/"))
        if posix.is_absolute() or Path(text).is_absolute():
            raise WorkspaceError(
                f"{relative!r} is an absolute path; use a path relative to the workspace"
            )
        if ".." in posix.parts:
            raise WorkspaceError(f"{relative!r} goes outside the workspace ('..' is not allowed)")
        candidate = self.root.joinpath(*posix.parts)
        try:
            resolved = candidate.resolve()
        except (RuntimeError, OSError, ValueError):  # a loop of links, a name too long
            raise WorkspaceError(
                f"{relative!r} cannot be followed: it is a loop of links or an invalid path"
            ) from None
        if resolved != self.root and self.root not in resolved.parents:
            raise WorkspaceError(f"{relative!r} is a link that points outside the workspace")
        return candidate

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() if path != self.root else "."

    def check_writable(self, path: Path) -> None:
        rel = self.relative(path)
        if any(fnmatch.fnmatch(rel, pattern) for pattern in self.read_only):
            raise WorkspaceError(f"{rel} is read-only for this task; write to another file")
        if path.is_dir():
            raise WorkspaceError(f"{rel} is a directory, not a file")

    def write_text(self, path: Path, content: str, *, append: bool = False) -> bool:
        """Write (or append to) a file, keeping a backup of what was there for Undo Edit Script.
        A write that leaves the file as it was is no change: it keeps no backup, so an undo
        goes back past it (traces: the 1.5B's ames edits returned the script unchanged 7 times,
        and its Undo Edit Script then restored one of those copies, leaving the failing line
        in). Returns whether the file changed."""
        self.check_writable(path)
        # "replace": a lone surrogate (from a JSON escape in a reply) is not text to keep
        data = content.encode("utf-8", errors="replace")
        if path.is_file() and (not data if append else path.read_bytes() == data):
            return False
        self.back_up(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab" if append else "wb") as handle:
            handle.write(data)
        return True

    def copy(self, source: Path, destination: Path) -> bool:
        """Copy a file (see write_text: a copy onto an identical file is no change)."""
        if not source.is_file():
            raise WorkspaceError(f"{self.relative(source)} is not a file in the workspace")
        self.check_writable(destination)
        if destination.is_file() and destination.read_bytes() == source.read_bytes():
            return False
        self.back_up(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        return True

    def back_up(self, path: Path) -> None:
        """Push the current state of `path` (None if it does not exist) on its undo stack."""
        key = self.relative(path)
        stack = self._backups.setdefault(key, [])
        if path.is_file():
            copy = self.backup_dir / f"{len(list(self.backup_dir.iterdir())):05d}"
            shutil.copyfile(path, copy)
            stack.append(copy)
        else:
            stack.append(None)

    def undo_state(self) -> dict[str, list[str | None]]:
        """The undo stacks as backup file names (None: the file did not exist), for checkpoints."""
        return {
            key: [None if backup is None else backup.name for backup in stack]
            for key, stack in self._backups.items()
        }

    def restore_undo_state(self, state: Mapping[str, Sequence[str | None]]) -> None:
        self._backups = {
            key: [None if name is None else self.backup_dir / name for name in names]
            for key, names in state.items()
        }

    def undo(self, path: Path) -> str:
        """Restore the state before the last change; returns what the file holds now."""
        key = self.relative(path)
        stack = self._backups.get(key)
        if not stack:
            raise WorkspaceError(f"there is no change to {key} left to undo")
        previous = stack.pop()
        if previous is None:
            path.unlink(missing_ok=True)
            return f"{key} did not exist before that change; it has been removed."
        shutil.copyfile(previous, path)
        return f"Content of {key} after undo:\n{path.read_text(encoding='utf-8', errors='replace')}"
