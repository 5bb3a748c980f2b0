"""The bubblewrap (`bwrap`) command line for one script, and a once-per-process check that it works.

The script sees the whole file system read-only, except: the writable paths (its working
directory, bound read-write), a private `/tmp` and `/dev/shm`, and the hidden paths, each
covered by an empty read-only tmpfs. Paths that must stay visible inside a hidden one (the
interpreter under HOME, the workspace inside the run directory) are bound back on top. It gets
new PID, network, IPC, UTS and cgroup namespaces: no network at all, and no process of it
outlives the sandbox's init.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import shutil
import stat
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)"
)

_PRIVATE = (Path("/tmp"), Path("/dev/shm"))

# Uids handed to root's scripts: far above any real account, so no file or process is shared.
_SPARE_UIDS = range(1_500_000_000, 2_000_000_000)


@dataclass(frozen=True)
class View:
    """What a script sees of the file system; all paths absolute and resolved."""

    writable: tuple[Path, ...]
    readable: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()


def unusable_reason() -> str | None:
    """Why bubblewrap cannot sandbox scripts here, or None when it can."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bwrap is not installed (not on PATH)"
    return _probe(bwrap, os.geteuid() == 0)


def command(view: View, *, tmp_size_mb: int | None, switch_uid: bool) -> list[str]:
    """The `bwrap ...` prefix that runs a command inside `view` (the launcher changes folder).

    `switch_uid`: root's scripts become an unprivileged uid (the launcher does it), so bwrap
    keeps just the two capabilities needed for that and runs without a user namespace.
    """
    bwrap = shutil.which("bwrap") or "bwrap"
    argv = [bwrap, *_namespaces(os.geteuid() == 0)]
    argv += ["--cap-drop", "ALL"]
    if switch_uid:
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    if switch_uid:
        closed = _closed_folders([*view.readable, *view.writable])
        view = replace(view, hidden=(*view.hidden, *closed))
    argv += _mounts(view, tmp_size_mb)
    # bwrap itself keeps the caller's HOME (a run's scratch folder), by which `--resume` finds
    # and stops what a killed run left running; the script gets the private /tmp.
    argv += ["--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp"]
    argv += ["--chdir", "/", "--die-with-parent", "--new-session", "--"]
    return argv


@contextlib.contextmanager
def lent_to(uid: int | None, paths: Sequence[Path]) -> Iterator[None]:
    """Make `paths` (recursively) owned by `uid` for the script's run, then give them back.

    What the script created ends up ours, like everything else in the workspace.
    """
    if uid is None:
        yield
        return
    owners = {path: (info.st_uid, info.st_gid) for path, info in _tree(paths)}
    for path in owners:
        os.chown(path, uid, uid, follow_symlinks=False)
    try:
        yield
    finally:
        ours = (os.geteuid(), os.getegid())
        for path, _ in _tree(paths):
            os.chown(path, *owners.get(path, ours), follow_symlinks=False)


def _tree(roots: Sequence[Path]) -> Iterator[tuple[Path, os.stat_result]]:
    for root in roots:
        yield root, root.lstat()
        for folder, dirs, files in os.walk(root):
            for name in (*dirs, *files):
                path = Path(folder, name)
                with contextlib.suppress(FileNotFoundError):
                    yield path, path.lstat()


def _mounts(view: View, tmp_size_mb: int | None) -> list[str]:
    """Tmpfs over the private and hidden paths, then the paths bound back on top of them."""
    private = [p for p in _PRIVATE if p not in view.writable]
    shown = {*view.writable, *view.readable, *private, Path("/")}
    hidden = [p for p in _existing(view.hidden) if p not in shown]
    if Path("/run").is_dir():
        hidden.append(Path("/run"))  # sockets of system daemons (docker, dbus) live there
    bound = [*view.readable, *view.writable]
    hidden = [p for p in hidden if _needed(p, hidden, bound)]
    covered = [*private, *hidden]
    plan = [(p, "tmp") for p in private] + [(p, "hide") for p in hidden]
    plan += [(p, "ro") for p in _existing(view.readable) if _inside(p, covered)]
    plan += [(p, "rw") for p in _existing(view.writable)]
    plan += [(p, "dir") for p in _folders_to_make(plan)]
    size = [] if tmp_size_mb is None else ["--size", str(tmp_size_mb * 1024 * 1024)]
    argv: list[str] = []
    # Shallow first, so a path bound back lands on top of the tmpfs that hides its parent.
    for path, kind in sorted(plan, key=lambda item: len(item[0].parts)):
        if kind == "tmp":
            argv += ["--perms", "1777", *size, "--tmpfs", str(path)]
        elif kind == "hide" and not path.is_dir():
            argv += ["--ro-bind", "/dev/null", str(path)]
        elif kind == "hide":
            argv += ["--size", str(1024 * 1024), "--tmpfs", str(path)]
        elif kind == "dir":
            argv += ["--perms", "0755", "--dir", str(path)]
        else:
            argv += ["--bind" if kind == "rw" else "--ro-bind", str(path), str(path)]
    for path in filter(Path.is_dir, hidden):
        argv += ["--remount-ro", str(path)]
    return argv


def _closed_folders(paths: list[Path]) -> list[Path]:
    """For each path, the outermost folder above it that other uids may not enter (root's
    HOME, say). Hidden, it costs the switched uid nothing, and the path is bound back."""
    closed = []
    for path in paths:
        for folder in reversed(path.parents[:-1]):
            if folder in _PRIVATE:
                break
            with contextlib.suppress(OSError):
                if not folder.stat().st_mode & stat.S_IXOTH:
                    closed.append(folder)
                    break
    return closed


def _needed(path: Path, hidden: list[Path], bound: list[Path]) -> bool:
    """A hidden path inside another hidden one needs its own tmpfs only if a path bound back
    in between shows it again."""
    for outer in hidden:
        if outer in path.parents and not any(
            outer in b.parents and (b == path or b in path.parents) for b in bound
        ):
            return False
    return True


def _folders_to_make(plan: list[tuple[Path, str]]) -> list[Path]:
    """Folders between a tmpfs and a path bound inside it, made traversable for any uid
    (bwrap would make them private to root)."""
    folders: list[Path] = []
    for path, kind in plan:
        if kind not in ("ro", "rw"):
            continue
        enclosing = [(p, k) for p, k in plan if p in path.parents]
        if not enclosing:
            continue
        mount, mount_kind = max(enclosing, key=lambda item: len(item[0].parts))
        if mount_kind in ("tmp", "hide"):
            between = [p for p in path.parents if mount in p.parents]
            folders += [p for p in between if p not in folders]
    return folders


def spare_uid() -> int | None:
    """A fresh unprivileged uid (also usable as a gid) for one script of root's, if there is one.

    Fresh per script, so each script's process limit counts only its own processes. None when
    our user namespace maps no such uid (root inside a rootless container).
    """
    uids, gids = _mapped("/proc/self/uid_map"), _mapped("/proc/self/gid_map")
    candidates = range(max(uids.start, gids.start), min(uids.stop, gids.stop))
    return random.choice(candidates) if len(candidates) > 1000 else None


def _mapped(map_file: str) -> range:
    """The part of `_SPARE_UIDS` this process can switch to, per its id map."""
    try:
        lines = Path(map_file).read_text().splitlines()
    except OSError:
        return range(0)
    for line in lines:
        inside, _, count = (int(field) for field in line.split())
        start = max(inside, _SPARE_UIDS.start)
        stop = min(inside + count, _SPARE_UIDS.stop)
        if stop - start > 1000:
            return range(start, stop)
    return range(0)


def _namespaces(root: bool) -> list[str]:
    """Root runs bwrap without a user namespace: in one, uid 0 would be the only uid mapped."""
    shared = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    return [*shared, "--unshare-cgroup-try"] if root else ["--unshare-all"]


@functools.cache
def _probe(bwrap: str, root: bool) -> str | None:
    argv = [bwrap, *_namespaces(root), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    argv += ["--tmpfs", "/tmp", "--die-with-parent", "--", "true"]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{bwrap} could not run: {exc}"
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"exit code {result.returncode}"]
        return f"{bwrap} does not work here: {lines[-1]}"
    return None


def _existing(paths: Iterable[Path]) -> list[Path]:
    return list(dict.fromkeys(p for p in paths if p.exists()))


def _inside(path: Path, folders: Iterable[Path]) -> bool:
    return any(path == f or f in path.parents for f in folders)
