"""Runs untrusted scripts: resource limits, a wall-clock timeout, a scrubbed environment and,
where bubblewrap works, a private view of the file system with no network.

The child never sees the user's environment: it gets an allowlist of harmless variables, so
API keys and other secrets cannot leak into LLM-written code. docs/ARCHITECTURE.md ("Sandbox")
says what each isolation level contains and what it does not.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from budgetml.config import SandboxConfig
from budgetml.data.paths import data_root
from budgetml.env import bubblewrap
from budgetml.env.limits import Limits, launcher_argv, tasks_counted_already
from budgetml.errors import ConfigError

Isolation = Literal["auto", "bubblewrap", "process"]

_log = logging.getLogger(__name__)
_warned: set[str] = set()

SCORING_FOLDER = "scoring"
"""Inside the sandbox's scratch folder: where `env/scoring.py` copied labels before they moved
to `Sandbox.scoring_area` (a run killed then may have left it)."""

_PASSED_THROUGH = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
)


@dataclass(frozen=True)
class ScriptResult:
    exit_code: int | None
    """None after a timeout; negative: the number of the signal that killed the script."""
    output: str
    timed_out: bool
    seconds: float
    reason: str | None = None
    """What stopped the script, in a few words, when a limit, a signal or the clock did."""
    busy_share: float | None = None
    """With `run(metered=True)`: the share of its main thread's life it did not spend waiting
    for a CPU held by others (Linux's schedstat); None where that cannot be read."""


@dataclass(frozen=True)
class SandboxPolicy:
    isolation: Isolation
    limits: Limits
    hidden: tuple[Path, ...] = ()
    """Hidden besides HOME and BudgetML's caches, e.g. the run directory and the task folder."""
    readable: tuple[Path, ...] = ()
    """Stay visible, read-only, even inside a hidden path."""

    @classmethod
    def from_config(
        cls, settings: SandboxConfig, hidden: Sequence[Path] = (), readable: Sequence[Path] = ()
    ) -> SandboxPolicy:
        limits = Limits(
            memory_mb=settings.memory_mb,
            cpu_seconds=settings.cpu_seconds,
            file_size_mb=settings.file_size_mb,
            max_processes=settings.max_processes,
        )
        return cls(
            isolation=settings.isolation,
            limits=limits,
            hidden=(*hidden, *settings.hidden_paths),
            readable=(*readable, *settings.readable_paths),
        )

    def view(
        self, python: str, writable: Sequence[Path], readable: Sequence[Path]
    ) -> bubblewrap.View:
        return bubblewrap.View(
            writable=tuple(writable),
            readable=tuple(_resolved([*readable, *self.readable, *_interpreter_paths(python)])),
            hidden=tuple(_resolved([*_secret_paths(), *self.hidden])),
        )


def scrubbed_environment(home: Path) -> dict[str, str]:
    """An allowlisted environment: nothing secret from ours, HOME and TMPDIR in `home`."""
    env = {key: os.environ[key] for key in _PASSED_THROUGH if key in os.environ}
    # `python` in a script's own commands is our interpreter (a pyenv shim first on PATH cannot
    # work in the sandbox; traces: "python: not found" or an empty output)
    interpreter_bin = str(Path(sys.executable).parent)
    env.update(
        PATH=os.pathsep.join([interpreter_bin, env.get("PATH", os.defpath)]),
        HOME=str(home),
        TMPDIR=str(home),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        MPLBACKEND="Agg",
    )
    return env


@dataclass(frozen=True)
class Sandbox:
    """Where and how scripts run; outside bubblewrap, `scratch` is the child's HOME and TMPDIR."""

    scratch: Path
    output_limit_chars: int = 10_000
    policy: SandboxPolicy = field(
        default_factory=lambda: SandboxPolicy.from_config(SandboxConfig())
    )
    isolation: Literal["bubblewrap", "process"] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "isolation", _choose_isolation(self.policy.isolation))

    @classmethod
    def for_run(cls, run_dir: Path, settings: SandboxConfig, task_dir: Path) -> Sandbox:
        """A run's sandbox: the run directory (but the workspace) and the task folder (but its
        `env/`, which the agent gets anyway) are hidden from scripts.

        Building it removes the scoring area a killed process left: it may hold a copy of the
        task's labels (see `env/scoring.py`).
        """
        shutil.rmtree(run_dir / "scratch" / SCORING_FOLDER, ignore_errors=True)
        policy = SandboxPolicy.from_config(
            settings, hidden=(run_dir, task_dir), readable=(task_dir / "env",)
        )
        sandbox = cls(run_dir / "scratch", settings.output_limit_chars, policy)
        shutil.rmtree(sandbox.scoring_area, ignore_errors=True)
        return sandbox

    @property
    def scoring_area(self) -> Path:
        """Where `env/scoring.py` copies a task's labels while it scores a workspace: beside the
        prepared labels, in BudgetML's data folder, which every sandbox hides (another run's
        scripts too, which would see a folder of this run); one folder per scratch folder."""
        key = hashlib.sha256(str(self.scratch.resolve()).encode()).hexdigest()[:16]
        return data_root() / "scoring" / key

    def run(
        self,
        argv: Sequence[str],
        cwd: Path,
        timeout_s: float,
        *,
        writable: Sequence[Path] = (),
        readable: Sequence[Path] = (),
        pass_fds: Sequence[int] = (),
        metered: bool = False,
    ) -> ScriptResult:
        """Run `argv` in `cwd`, the only writable place besides `writable`; kill all it left.

        `readable`: paths it must read although they may lie inside a hidden one. `pass_fds`:
        file descriptors the script inherits (under the same numbers). `metered`: also say how
        much of its time the script waited for a CPU (`ScriptResult.busy_share`).
        """
        busy: float | None = None
        started = time.monotonic()
        self.scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=self.scratch) as sink:
            with self.started(
                argv,
                cwd,
                timeout_s,
                writable=writable,
                readable=readable,
                output=sink,
                pass_fds=pass_fds,
            ) as process:
                timed_out = False
                try:
                    if metered:
                        busy = _wait_metered(process, self.script_pid(process), timeout_s)
                    else:
                        process.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    timed_out = True
            output = _read_head_and_tail(sink, self.output_limit_chars)
        code = None if timed_out else _exit_code(process.returncode, self.isolation)
        return ScriptResult(
            exit_code=code,
            output=output,
            timed_out=timed_out,
            seconds=time.monotonic() - started,
            reason=_reason(code, timed_out, output, self.policy.limits, timeout_s),
            busy_share=busy,
        )

    @contextlib.contextmanager
    def started(
        self,
        argv: Sequence[str],
        cwd: Path,
        timeout_s: float,
        *,
        output: IO[bytes],
        writable: Sequence[Path] = (),
        readable: Sequence[Path] = (),
        stdin: int | None = None,
        stdout: int | None = None,
        pass_fds: Sequence[int] = (),
    ) -> Iterator[subprocess.Popen[bytes]]:
        """`argv` started as `run` starts it, for as long as the block lasts; then it and all it
        left are killed. Its stderr (and stdout, unless `stdout` is given) go to `output`."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        writable = _resolved([cwd, *writable])
        readable = _resolved(readable)
        uid = _uid_for_root() if self.isolation == "bubblewrap" else None
        command = self._command(list(argv), writable, readable, timeout_s, uid)
        with bubblewrap.lent_to(uid, [*writable, *readable]):
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=scrubbed_environment(self.scratch),
                stdin=subprocess.DEVNULL if stdin is None else stdin,
                stdout=output if stdout is None else stdout,
                stderr=output if stdout is not None else subprocess.STDOUT,
                start_new_session=True,
                pass_fds=tuple(pass_fds),
            )
            try:
                yield process
            finally:
                if process.poll() is None and self.isolation == "bubblewrap":
                    _stop_namespace(process)
                _kill_group(process.pid)
                process.wait()

    def script_pid(self, process: subprocess.Popen[bytes]) -> int | None:
        """The pid (as we see it) of the script `started` runs: bwrap's child's child under
        bubblewrap, the launcher (which becomes the script) otherwise."""
        if self.isolation == "process":
            return process.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            pid = _first_descendant_not_bwrap(process.pid)
            if pid is not None:
                return pid
            time.sleep(0.01)
        return None

    def _command(
        self,
        argv: list[str],
        writable: list[Path],
        readable: list[Path],
        timeout_s: float,
        uid: int | None,
    ) -> list[str]:
        """`argv` behind the launcher (limits, uid), itself inside bwrap unless isolation is
        process-level."""
        limits = self.policy.limits
        if self.isolation == "process":
            rlimits = limits.rlimits(timeout_s, tasks_counted_already(fresh_count=False))
            return launcher_argv(sys.executable, rlimits, argv)
        view = self.policy.view(argv[0], writable, readable)
        prefix = bubblewrap.command(view, tmp_size_mb=limits.memory_mb, switch_uid=uid is not None)
        rlimits = limits.rlimits(timeout_s, tasks_counted_already(fresh_count=True))
        return prefix + launcher_argv(sys.executable, rlimits, argv, uid, str(writable[0]))


def _choose_isolation(wanted: Isolation) -> Literal["bubblewrap", "process"]:
    """Bubblewrap where it works (checked once per process); say once when it does not."""
    if wanted == "process":
        return "process"
    why = bubblewrap.unusable_reason() if sys.platform == "linux" else "not on Linux"
    if why is None:
        return "bubblewrap"
    if wanted == "bubblewrap":
        raise ConfigError(
            f"sandbox.isolation is 'bubblewrap' but bubblewrap cannot run here ({why}): "
            f"{bubblewrap.INSTALL_HINT}, or set sandbox.isolation to 'auto'"
        )
    _warn_once(
        f"scripts run without the bubblewrap sandbox ({why}): they can read your files and use "
        f"the network; {bubblewrap.INSTALL_HINT} to contain them"
    )
    return "process"


def _uid_for_root() -> int | None:
    """Root's scripts run as a spare unprivileged uid: the process limit never applies to uid 0."""
    if os.geteuid() != 0:
        return None
    uid = bubblewrap.spare_uid()
    if uid is None:
        _warn_once(
            "scripts run as root inside the sandbox: no spare uid is mapped here, so the "
            "limit on processes does not hold"
        )
    return uid


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        _log.warning(message)


def _secret_paths() -> list[Path]:
    """HOME and BudgetML's own caches and data (keys, cached responses, prepared test labels
    and the copies scoring makes of them)."""
    home = Path(os.path.expanduser("~"))
    paths = [home, home / ".cache" / "budgetml", data_root()]
    for variable in ("BUDGETML_CACHE_DIR", "BUDGETML_MODELS_DIR", "BUDGETML_DATA_DIR"):
        if os.environ.get(variable):
            paths.append(Path(os.environ[variable]).expanduser())
    return paths


def _interpreter_paths(python: str) -> list[Path]:
    """What scripts need to start Python, should it live in a hidden place such as HOME."""
    ours = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, sys.executable]
    paths = [Path(p) for p in ours]
    for interpreter in {Path(sys.executable), Path(python)}:
        if interpreter.is_absolute():
            paths += [interpreter.parent.parent, interpreter.resolve().parent.parent]
    return paths


def _resolved(paths: Sequence[Path]) -> list[Path]:
    return list(dict.fromkeys(Path(p).expanduser().resolve() for p in paths))


def _stop_namespace(process: subprocess.Popen[bytes]) -> None:
    """On timeout, kill bubblewrap's init first: its PID namespace, every process in it, dies
    with it, and bwrap exits once that is done."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    with contextlib.suppress(OSError, ValueError):
        for pid in children.read_text().split():
            os.kill(int(pid), signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)


def _wait_metered(
    process: subprocess.Popen[bytes], pid: int | None, timeout_s: float
) -> float | None:
    """Wait for `process` (TimeoutExpired after `timeout_s`), reading the script's schedstat
    every 20 ms; the share of its life (wall-clock) it did not spend waiting for a CPU."""
    started = time.monotonic()
    deadline = started + timeout_s
    fd = None
    with contextlib.suppress(OSError):
        fd = None if pid is None else os.open(f"/proc/{pid}/task/{pid}/schedstat", os.O_RDONLY)
    ran = waited = 0
    try:
        while True:
            if fd is not None:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    fields = os.pread(fd, 256, 0).split()
                    ran, waited = int(fields[0]), int(fields[1])
            try:
                process.wait(timeout=min(0.02, max(0.0, deadline - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    raise
    finally:
        if fd is not None:
            os.close(fd)
    lived = time.monotonic() - started
    return max(0.05, 1 - waited / 1e9 / lived) if ran > 0 and lived > 0 else None


def _first_descendant_not_bwrap(pid: int) -> int | None:
    """The first process below `pid` (breadth first) that is not bwrap itself."""
    queue = [pid]
    while queue:
        current = queue.pop(0)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            try:
                name = Path(f"/proc/{child}/comm").read_text().strip()
            except OSError:
                continue
            if name != "bwrap":
                return child
            queue.append(child)
    return None


def _kill_group(pgid: int) -> None:
    """Kill whatever the script left running in its group, finished or not."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _exit_code(returncode: int, isolation: str) -> int:
    """bwrap reports death by signal N as 128 + N (as a shell does); make it -N like Popen."""
    if isolation == "bubblewrap" and 128 < returncode <= 128 + 64:
        return 128 - returncode
    return returncode


_OUT_OF_MEMORY = ("MemoryError", "Unable to allocate", "bad_alloc", "Cannot allocate memory")


def _reason(
    code: int | None, timed_out: bool, output: str, limits: Limits, timeout_s: float
) -> str | None:
    if timed_out:
        return f"killed: wall-clock timeout after {timeout_s:g} s"
    if not code:
        return None
    if code == -signal.SIGXCPU:
        return f"killed: exceeded the CPU time limit ({limits.cpu_limit(timeout_s):g} s)"
    if code == -signal.SIGXFSZ or "File too large" in output:
        return f"file size limit reached ({limits.file_size_mb} MB per file)"
    if limits.memory_mb and any(marker in output for marker in _OUT_OF_MEMORY):
        return f"memory limit reached ({limits.memory_mb} MB): an allocation failed"
    if limits.max_processes and "Resource temporarily unavailable" in output:
        return f"process limit reached ({limits.max_processes} processes and threads)"
    if code == -signal.SIGKILL:
        return "killed by signal SIGKILL (sent by the out-of-memory killer or the CPU time limit)"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by signal {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return None


def _read_head_and_tail(sink: IO[bytes], limit: int) -> str:
    """The start and end of the captured output, never loading a huge output whole."""
    size = sink.seek(0, os.SEEK_END)
    sink.seek(0)
    if size <= limit:
        return sink.read().decode("utf-8", errors="replace")
    head_bytes = limit * 2 // 3
    tail_bytes = limit - head_bytes
    head = sink.read(head_bytes).decode("utf-8", errors="replace")
    sink.seek(size - tail_bytes)
    tail = sink.read().decode("utf-8", errors="replace")
    cut = size - head_bytes - tail_bytes
    return f"{head}\n[... {cut:,} bytes of output cut from the middle ...]\n{tail}"
