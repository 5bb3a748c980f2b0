"""Resource limits for a script, and the launcher that applies them before the script starts.

The launcher is this file's own source, run as `python -I -S -c SOURCE SPEC -- ARGV...`: it may
switch to an unprivileged uid, gives the script a session keyring of its own, sets the rlimits,
then execs the script. It runs inside the sandbox, so the limits hold for the script and
everything it starts. It needs only the standard library, because under `-I -S` nothing else is
importable.
"""

from __future__ import annotations

import errno
import json
import math
import os
import resource
import sys
from dataclasses import dataclass

_MB = 1024 * 1024

# keyctl(2)'s system call number, by machine; KEYCTL_JOIN_SESSION_KEYRING is operation 1.
_KEYCTL = {"x86_64": 250, "aarch64": 219, "riscv64": 219, "ppc64le": 355, "s390x": 280}


@dataclass(frozen=True)
class Limits:
    """Per-process ceilings (defaults: `SandboxConfig`); None leaves that resource unlimited."""

    memory_mb: int | None
    cpu_seconds: float | None
    """None: the wall-clock timeout times the number of CPUs, so only a runaway trips it."""
    file_size_mb: int | None
    max_processes: int | None
    """Processes and threads together, as the kernel counts them for RLIMIT_NPROC."""

    def cpu_limit(self, timeout_s: float) -> float:
        if self.cpu_seconds is not None:
            return self.cpu_seconds
        return timeout_s * (os.cpu_count() or 1) + 5

    def rlimits(self, timeout_s: float, processes_offset: int = 0) -> dict[str, tuple[int, int]]:
        """The rlimits to set, by resource name, as (soft, hard).

        DATA caps what a script allocates; AS, at twice that, also caps shared mappings while
        leaving room for the address space that threads and libraries reserve but never use.
        """
        cpu = math.ceil(self.cpu_limit(timeout_s))
        limits: dict[str, tuple[int, int]] = {
            "RLIMIT_CPU": (cpu, cpu + 5),
            "RLIMIT_CORE": (0, 0),
        }
        if self.memory_mb is not None:
            limits["RLIMIT_DATA"] = (self.memory_mb * _MB,) * 2
            limits["RLIMIT_AS"] = (2 * self.memory_mb * _MB,) * 2
        if self.file_size_mb is not None:
            limits["RLIMIT_FSIZE"] = (self.file_size_mb * _MB,) * 2
        if self.max_processes is not None:
            limits["RLIMIT_NPROC"] = (self.max_processes + processes_offset,) * 2
        return limits


def tasks_counted_already(fresh_count: bool) -> int:
    """How many tasks the process limit must allow besides the script's own.

    The kernel counts a uid's tasks per user namespace since Linux 5.14, so in a fresh sandbox
    the count starts at zero; elsewhere it includes every task the user already runs. Root is
    never limited, whatever the count.
    """
    if sys.platform != "linux" or os.geteuid() == 0:
        return 0
    release = os.uname().release.split("-")[0].split(".")[:2]
    if fresh_count and tuple(int(part) for part in release if part.isdigit()) >= (5, 14):
        return 0
    uid, tasks = str(os.getuid()), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status", encoding="utf-8") as status:
                fields = dict(line.split(":", 1) for line in status)
            if fields["Uid"].split()[0] == uid:
                tasks += int(fields["Threads"])
        except (OSError, ValueError, KeyError):
            continue
    return tasks


def launcher_argv(
    python: str,
    rlimits: dict[str, tuple[int, int]],
    argv: list[str],
    uid: int | None = None,
    cwd: str | None = None,
) -> list[str]:
    """`argv` started through the launcher, which first becomes `uid` (if given), moves to
    `cwd` (as that uid, which may own it alone) and sets the limits."""
    spec = json.dumps({"rlimits": rlimits, "uid": uid, "cwd": cwd})
    with open(__file__, encoding="utf-8") as source:
        code = source.read()
    return [python, "-I", "-S", "-c", code, spec, "--", *argv]


def _launch(args: list[str]) -> None:
    spec = json.loads(args[0])
    argv = args[args.index("--") + 1 :]
    uid = spec["uid"]
    if uid is not None:
        # All three uids change, so the kernel drops every capability and the limit on
        # processes applies (it never does to uid 0).
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    _leave_session_keyring()
    if spec["cwd"] is not None:
        os.chdir(spec["cwd"])
        os.environ["PWD"] = spec["cwd"]
    for name, (soft, hard) in spec["rlimits"].items():
        which = getattr(resource, name)
        ceiling = resource.getrlimit(which)[1]
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):  # a limit this platform does not enforce (macOS: AS)
            continue
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"cannot start {argv[0]}: {exc.strerror}", file=sys.stderr)
        sys.exit(127)


def _leave_session_keyring() -> None:
    """Join a new, empty session keyring. Every process inherits its parent's, whose keys any
    uid that possesses it may read and add to: through the one a login session gives BudgetML,
    code run while scoring could hand the labels to a later step's script."""
    number = _KEYCTL.get(os.uname().machine) if sys.platform == "linux" else None
    if number is None:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, 1, None) >= 0:
        return
    failure = ctypes.get_errno()
    if failure in (errno.EPERM, errno.ENOSYS):  # keyrings are off here (a seccomp filter, say)
        return
    print(f"cannot leave the session keyring: {os.strerror(failure)}", file=sys.stderr)
    sys.exit(126)


if __name__ == "__main__":
    _launch(sys.argv[1:])
