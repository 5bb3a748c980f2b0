"""Scoring a workspace so that nothing in it can change the verdict but what it computes.

Folders in the sandbox's scoring area (`Sandbox.scoring_area`: beside the prepared labels in
BudgetML's data folder, which every sandbox hides, other runs' included; removed before and
after, and by `Sandbox.for_run` when a killed process left it):
- `submission/`: a copy of the workspace holding only regular files and folders. Links (to
  `/proc/self/cwd/...` or anywhere), FIFOs, sockets and devices are left out, and hard links
  become copies, so nothing in it resolves outside it while eval.py reads it.
- `eval/`: the task's scripts, its prepared labels, `eval_driver.py` and `submission_host.py`.
  eval.py runs here in the sandbox, and the driver writes its verdict to a pipe that only it
  holds, not to stdout.
- `host-N/`: a fresh copy of the submission for each process of its code that eval.py asks
  for (by importing it, or `budgetml_submission.new_process()`): each runs in a sandbox of its
  own that sees neither `eval/`, nor the copy eval.py reads, nor another host's copy, and dies
  with everything it started when eval.py closes it or the scoring ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from budgetml.env import eval_driver, submission_host
from budgetml.env.sandbox import Sandbox

_MAX_VERDICT_BYTES = 1 << 20
_MAX_HOSTS = 16
"""Submission processes one scoring may start (each is a copy of the workspace)."""


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
    area = sandbox.scoring_area
    shutil.rmtree(area, ignore_errors=True)
    try:
        submission, eval_dir = area / "submission", area / "eval"
        left_out = clean_copy(workspace, submission)
        scripts = eval_dir / "scripts"
        shutil.copytree(scripts_dir, scripts)
        if private_dir is not None and private_dir.is_dir():
            shutil.copytree(private_dir, scripts, dirs_exist_ok=True)
        shutil.copyfile(eval_driver.__file__, eval_dir / "budgetml_eval_driver.py")
        shutil.copyfile(submission_host.__file__, eval_dir / "budgetml_submission.py")
        score = _run_eval(submission, area, eval_dir, sandbox, python, timeout_s)
    finally:
        shutil.rmtree(area, ignore_errors=True)
    if score.error is not None and left_out:
        shown = ", ".join(left_out[:5]) + (", ..." if len(left_out) > 5 else "")
        note = f" (not scored, as links and special files never are: {shown})"
        return Score(None, score.error + note)
    return score


def _run_eval(
    submission: Path,
    area: Path,
    eval_dir: Path,
    sandbox: Sandbox,
    python: str,
    timeout_s: float,
) -> Score:
    with contextlib.ExitStack() as stack:
        verdict_r, verdict_w = _pipe(stack)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        stack.callback(ours.close)
        stack.callback(theirs.close)
        hosts = stack.enter_context(_Hosts(submission, area, sandbox, python, timeout_s, ours))
        argv = [
            python,
            str(eval_dir / "budgetml_eval_driver.py"),
            str(eval_dir / "scripts/eval.py"),
        ]
        argv += [str(submission), str(verdict_w), str(theirs.fileno())]
        result = sandbox.run(
            argv,
            eval_dir / "scripts",
            timeout_s,
            writable=[eval_dir],
            readable=[submission],
            pass_fds=[verdict_w, theirs.fileno()],
        )
        verdict = _read_verdict(verdict_r)
    host_output = hosts.last_output
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
    crashed = any(name in error for name in ("SubmissionCrashed", "SubmissionTimedOut"))
    if crashed and host_output != "(no output)":
        error += f"; its last output: {host_output}"
    return Score(None, error)


class _Hosts:
    """BudgetML's end of the eval driver's control socket (see `submission_host._Control`): a
    thread that starts a sandboxed host on a fresh copy of the submission for each `start`,
    and kills one on `end`; every host still running is killed when the block ends."""

    def __init__(
        self,
        submission: Path,
        area: Path,
        sandbox: Sandbox,
        python: str,
        timeout_s: float,
        channel: socket.socket,
    ) -> None:
        self._submission, self._area, self._sandbox = submission, area, sandbox
        self._python, self._timeout_s, self._channel = python, timeout_s, channel
        self._running: dict[int, contextlib.ExitStack] = {}
        self._outputs: dict[int, str] = {}
        self._started = 0
        self.last_output = "(no output)"
        """After the block: the last line printed by the latest host that printed anything."""
        self._thread = threading.Thread(target=self._serve, name="budgetml-hosts", daemon=True)

    def __enter__(self) -> _Hosts:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._channel.shutdown(socket.SHUT_RDWR)
        self._thread.join()
        for number in list(self._running):
            self._end(number)
        printed = [line for _, line in sorted(self._outputs.items()) if line != "(no output)"]
        self.last_output = printed[-1] if printed else "(no output)"

    def _serve(self) -> None:
        while True:
            try:
                data = self._channel.recv(65536)
            except OSError:
                return
            if not data:
                return
            fds: list[int] = []
            try:
                request = json.loads(data)
                if request.get("op") == "start":
                    reply, fds = self._start()
                elif request.get("op") == "end":
                    self._end(int(request["host"]))
                    reply = {}
                else:
                    reply = {"error": f"unknown request {request!r}"}
            except Exception as exc:  # noqa: BLE001 - told to eval.py, which decides
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            try:
                socket.send_fds(self._channel, [json.dumps(reply).encode()], fds)
            except OSError:
                return
            finally:
                for fd in fds:
                    _close(fd)

    def _start(self) -> tuple[dict[str, object], list[int]]:
        if self._started >= _MAX_HOSTS:
            return {"error": f"one scoring may start at most {_MAX_HOSTS} processes"}, []
        number = self._started
        self._started += 1
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        stack = contextlib.ExitStack()
        try:
            host = stack.enter_context(self._host(number, requests_r, replies_w))
        except BaseException:
            stack.close()
            for fd in (requests_w, replies_r):
                _close(fd)
            raise
        finally:  # the host holds its own ends; ours would keep its death from the driver
            for fd in (requests_r, replies_w):
                _close(fd)
        self._running[number] = stack
        meter = _open_meter(self._sandbox, host)
        handed = [requests_w, replies_r, *([] if meter is None else [meter])]
        return {"host": number, "meter": meter is not None}, handed

    @contextlib.contextmanager
    def _host(self, number: int, requests: int, replies: int) -> Iterator[subprocess.Popen[bytes]]:
        """Host `number`, serving on a fresh copy of the submission while the block lasts; then
        it is killed with all it started, its last line of output kept, its folder removed."""
        folder = self._area / f"host-{number}"
        workspace = folder / "workspace"
        try:
            clean_copy(self._submission, workspace)
            program = folder / "budgetml_submission.py"
            shutil.copyfile(submission_host.__file__, program)
            with tempfile.TemporaryFile(dir=self._sandbox.scratch) as log:
                try:
                    with self._sandbox.started(
                        [self._python, str(program), "serve", str(workspace)],
                        workspace,
                        self._timeout_s,
                        readable=[program],
                        stdin=requests,
                        stdout=replies,
                        output=log,
                    ) as host:
                        yield host
                finally:
                    self._outputs[number] = _last_line(_tail(log))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _end(self, number: int) -> None:
        stack = self._running.pop(number, None)
        if stack is not None:
            stack.close()


def _pipe(stack: contextlib.ExitStack) -> tuple[int, int]:
    read, write = os.pipe()
    for fd in (read, write):
        stack.callback(_close, fd)
    return read, write


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def _open_meter(sandbox: Sandbox, host: subprocess.Popen[bytes]) -> int | None:
    """A descriptor on the host script's scheduler statistics, for eval.py's timings."""
    pid = sandbox.script_pid(host)
    if pid is None:
        return None
    try:
        return os.open(f"/proc/{pid}/task/{pid}/schedstat", os.O_RDONLY)
    except OSError:
        return None


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
