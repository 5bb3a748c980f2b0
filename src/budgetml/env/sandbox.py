"""Runs untrusted scripts: own process group, wall-clock timeout, scrubbed environment.

The child never sees the user's environment: it gets an allowlist of harmless variables, so
API keys and other secrets cannot leak into LLM-written code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

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
    output: str
    timed_out: bool
    seconds: float


def scrubbed_environment(home: Path) -> dict[str, str]:
    """An allowlisted environment: nothing secret from ours, HOME and TMPDIR in `home`."""
    env = {key: os.environ[key] for key in _PASSED_THROUGH if key in os.environ}
    env.update(
        HOME=str(home),
        TMPDIR=str(home),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        MPLBACKEND="Agg",
    )
    return env


@dataclass(frozen=True)
class Sandbox:
    """Where and how scripts run; `scratch` becomes the child's HOME and TMPDIR."""

    scratch: Path
    output_limit_chars: int = 10_000

    def run(self, argv: Sequence[str], cwd: Path, timeout_s: float) -> ScriptResult:
        """Run `argv` in `cwd`; on timeout kill its whole process group."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with tempfile.TemporaryFile(dir=self.scratch) as sink:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=scrubbed_environment(self.scratch),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            timed_out = False
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            _kill_group(process.pid)
            process.wait()
            output = _read_head_and_tail(sink, self.output_limit_chars)
        return ScriptResult(
            exit_code=None if timed_out else process.returncode,
            output=output,
            timed_out=timed_out,
            seconds=time.monotonic() - started,
        )


def _kill_group(pgid: int) -> None:
    """Kill whatever the script left running in its group, finished or not."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


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
