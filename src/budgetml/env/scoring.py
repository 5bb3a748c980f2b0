"""Scoring a workspace so that nothing in it can change the verdict but what it computes.

Three folders under the sandbox's scratch folder (`scoring/`, removed before and after, and by
`Sandbox.for_run` when a killed process left it, since it holds the labels):
- `submission/`: a copy of the workspace holding only regular files and folders. Links (to
  `/proc/self/cwd/...` or anywhere), FIFOs, sockets and devices are left out, and hard links
  become copies, so nothing in it resolves outside it while eval.py reads it.
- `eval/`: the task's scripts, its prepared labels, `eval_driver.py` and `submission_host.py`.
  eval.py runs here in the sandbox, and the driver writes its verdict to a pipe that only it
  holds, not to stdout.
- `host/`: a second copy of the submission, where the submission's code runs in a sandbox of
  its own when eval.py imports it (`submission_host.py`). That sandbox sees neither `eval/`
  nor the copy eval.py reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from budgetml.env import eval_driver, submission_host
from budgetml.env.sandbox import SCORING_FOLDER, Sandbox

_MAX_VERDICT_BYTES = 1 << 20


@dataclass(frozen=True)
class Score:
    value: float | None
    error: str | None = None


def score_workspace(
    workspace: Path,
    scripts_dir: Path,
    private_dir: Path | None,
    sandbox: Sandbox,
    python: str,
    timeout_s: float,
) -> Score:
    """Score `workspace` with `scripts_dir/eval.py` (see the module's docstring)."""
    area = (sandbox.scratch / SCORING_FOLDER).absolute()  # scripts run from inside it
    shutil.rmtree(area, ignore_errors=True)
    try:
        submission, host_dir, eval_dir = area / "submission", area / "host", area / "eval"
        left_out = clean_copy(workspace, submission)
        clean_copy(submission, host_dir / "workspace")
        shutil.copyfile(submission_host.__file__, host_dir / "budgetml_submission.py")
        scripts = eval_dir / "scripts"
        shutil.copytree(scripts_dir, scripts)
        if private_dir is not None and private_dir.is_dir():
            shutil.copytree(private_dir, scripts, dirs_exist_ok=True)
        shutil.copyfile(eval_driver.__file__, eval_dir / "budgetml_eval_driver.py")
        shutil.copyfile(submission_host.__file__, eval_dir / "budgetml_submission.py")
        score = _run_eval(submission, host_dir, eval_dir, sandbox, python, timeout_s)
    finally:
        shutil.rmtree(area, ignore_errors=True)
    if score.error is not None and left_out:
        shown = ", ".join(left_out[:5]) + (", ..." if len(left_out) > 5 else "")
        note = f" (not scored, as links and special files never are: {shown})"
        return Score(None, score.error + note)
    return score


def _run_eval(
    submission: Path,
    host_dir: Path,
    eval_dir: Path,
    sandbox: Sandbox,
    python: str,
    timeout_s: float,
) -> Score:
    host_workspace = host_dir / "workspace"
    with contextlib.ExitStack() as stack:
        requests_r, requests_w = _pipe(stack)
        replies_r, replies_w = _pipe(stack)
        verdict_r, verdict_w = _pipe(stack)
        host_log = stack.enter_context(tempfile.TemporaryFile(dir=sandbox.scratch))
        host = stack.enter_context(
            sandbox.started(
                [python, str(host_dir / "budgetml_submission.py"), "serve", str(host_workspace)],
                host_workspace,
                timeout_s,
                readable=[host_dir / "budgetml_submission.py"],
                stdin=requests_r,
                stdout=replies_w,
                output=host_log,
            )
        )
        meter = _open_meter(sandbox, host, stack)
        argv = [
            python,
            str(eval_dir / "budgetml_eval_driver.py"),
            str(eval_dir / "scripts/eval.py"),
        ]
        argv += [str(submission), str(verdict_w), str(requests_w), str(replies_r)]
        argv += ["-" if meter is None else str(meter)]
        passed = [verdict_w, requests_w, replies_r, *([] if meter is None else [meter])]
        result = sandbox.run(
            argv,
            eval_dir / "scripts",
            timeout_s,
            writable=[eval_dir],
            readable=[submission],
            pass_fds=passed,
        )
        verdict = _read_verdict(verdict_r)
        host_output = _last_line(_tail(host_log))
    if result.timed_out:
        return Score(None, f"eval.py timed out after {timeout_s:g} s")
    if verdict is None:
        return Score(None, f"eval.py ended without a score: {_last_line(result.output)}")
    if "score" in verdict:
        try:
            return Score(float(verdict["score"]))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return Score(None, f"eval.py gave a score that is not a number: {verdict['score']!r}")
    error = str(verdict.get("error", "no score and no error"))
    if "SubmissionCrashed" in error and host_output != "(no output)":
        error += f"; its last output: {host_output}"
    return Score(None, error)


def _pipe(stack: contextlib.ExitStack) -> tuple[int, int]:
    read, write = os.pipe()
    for fd in (read, write):
        stack.callback(_close, fd)
    return read, write


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def _open_meter(
    sandbox: Sandbox, host: subprocess.Popen[bytes], stack: contextlib.ExitStack
) -> int | None:
    """A descriptor on the host script's scheduler statistics, for eval.py's timings."""
    pid = sandbox.script_pid(host)
    if pid is None:
        return None
    try:
        fd = os.open(f"/proc/{pid}/task/{pid}/schedstat", os.O_RDONLY)
    except OSError:
        return None
    stack.callback(_close, fd)
    return fd


def _read_verdict(fd: int) -> dict[str, object] | None:
    """The driver's JSON object, read without waiting: the driver has ended."""
    os.set_blocking(fd, False)
    data = b""
    with contextlib.suppress(BlockingIOError, OSError):
        while len(data) < _MAX_VERDICT_BYTES and (chunk := os.read(fd, 65536)):
            data += chunk
    try:
        verdict = json.loads(data)
    except ValueError:
        return None
    return verdict if isinstance(verdict, dict) else None


def _tail(file: IO[bytes]) -> str:
    size = file.seek(0, os.SEEK_END)
    file.seek(max(0, size - 4000))
    return file.read().decode("utf-8", errors="replace")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def clean_copy(source: Path, destination: Path) -> list[str]:
    """Copy the regular files and folders of `source`; return what was left out (relative
    paths): links, FIFOs, sockets, devices and whatever could not be read."""
    destination.mkdir(parents=True, exist_ok=True)
    left_out: list[str] = []
    for entry, relative in _walk(source, ""):
        target = destination / relative
        if entry.is_dir(follow_symlinks=False):
            target.mkdir(exist_ok=True)
        elif not _copy_regular_file(Path(entry.path), target):
            left_out.append(relative)
    return left_out


def _walk(folder: Path, prefix: str) -> Iterator[tuple[os.DirEntry[str], str]]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        relative = f"{prefix}{entry.name}"
        yield entry, relative
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), relative + "/")


def _copy_regular_file(source: Path, target: Path) -> bool:
    """Copy `source` if it is a regular file (never following a link); False if it is not."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as reader:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return False
        with open(target, "wb") as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)
        os.chmod(target, stat.S_IMODE(info.st_mode) & 0o755 | 0o600)
        os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
    return True
