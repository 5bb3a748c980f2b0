"""The submission's code in processes of its own, and the proxies through which eval.py uses it.

At scoring time the eval driver holds a socket to BudgetML (`connect`). When eval.py imports a
module of the submission, the driver's import hook (`install`) hands it a `RemoteModule`: the
module runs in the *host*, `python budgetml_submission.py serve FOLDER`, which BudgetML starts
on the first request in a sandbox of its own that sees only a copy of the workspace; every
attribute, call and item of the module is a request over a pipe pair to it. Values come back by
value when they are plain data (numbers, strings, lists, dicts, numpy arrays), otherwise as
`RemoteObject` handles. So nothing the submission does (patching `time.perf_counter`,
registering `atexit` hooks, replacing numpy functions) happens in the process that checks and
times it, and the host never sees eval.py's files or labels. `new_process()` gives eval.py
another host, fresh (its own sandbox, a fresh copy of the workspace, nothing another host
wrote), for an evaluation whose steps must not share state; it ends, with everything it
started, when eval.py closes it.

Replies are decoded by a small tagged format, never by pickle, since the host is untrusted.
It imports nothing from BudgetML and nothing but the standard library (numpy when arrays
cross): the scoring interpreter may not have BudgetML installed.
"""

from __future__ import annotations

import builtins
import importlib.abc
import importlib.machinery
import importlib.util
import io
import json
import os
import select
import socket
import struct
import sys
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path, PurePath
from typing import Any

_LENGTH = struct.Struct("<Q")
_MAX_MESSAGE = 1 << 34  # 16 GiB: a length above this is a broken or hostile host


class SubmissionCrashed(RuntimeError):
    """The submission's process ended, or broke the protocol, while eval.py was using it."""


class SubmissionTimedOut(SubmissionCrashed):
    """The submission's process did not answer within the time `new_process` gave it."""


class RemoteError(Exception):
    """An exception raised in the submission's process whose type is not a built-in one."""


# --- the format both sides speak ------------------------------------------------------------


def encode(value: Any, handle_of: Callable[[Any], int | None], folder: Path | None = None) -> bytes:
    """`value` as bytes: JSON for the structure, raw blobs for arrays and bytes.

    `handle_of(x)` names objects that are not plain data (None: refuse them). Paths (and
    strings that are paths) inside `folder` travel relative to it: the host's copy of the
    submission lies elsewhere.
    """
    blobs: list[bytes] = []
    prefix = None if folder is None else str(folder)

    def relative(text: str) -> str | None:
        if prefix is None or not (text == prefix or text.startswith(prefix + os.sep)):
            return None
        return text[len(prefix) :].lstrip(os.sep) or "."

    def tree(x: Any) -> Any:
        if isinstance(x, str) and (inside := relative(x)) is not None:
            return {"$r": inside}
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        if isinstance(x, (bytes, bytearray)):
            blobs.append(bytes(x))
            return {"$b": len(blobs) - 1}
        if isinstance(x, PurePath):
            inside = relative(str(x))
            return {"$p": str(x)} if inside is None else {"$R": inside}
        if isinstance(x, list):
            return [tree(item) for item in x]
        if isinstance(x, tuple) and type(x) is tuple:
            return {"$t": [tree(item) for item in x]}
        if isinstance(x, dict) and type(x) is dict:
            return {"$d": [[tree(k), tree(v)] for k, v in x.items()]}
        array = _array_bytes(x)
        if array is not None:
            blobs.append(array)
            return {"$n" if _is_numpy_scalar(x) else "$a": len(blobs) - 1}
        handle = handle_of(x)
        if handle is None:
            raise TypeError(f"a {type(x).__name__} cannot be sent to the submission's process")
        return {"$h": handle}

    head = json.dumps(tree(value)).encode()
    parts = [_LENGTH.pack(len(blobs)), _LENGTH.pack(len(head)), head]
    for blob in blobs:
        parts += [_LENGTH.pack(len(blob)), blob]
    return b"".join(parts)


def decode(data: bytes, from_handle: Callable[[int], Any], folder: str = ".") -> Any:
    """The value `encode` wrote; handles become `from_handle(number)`, relative paths are
    taken in `folder`."""
    view = memoryview(data)
    count, size = _LENGTH.unpack_from(view, 0)[0], _LENGTH.unpack_from(view, 8)[0]
    head = json.loads(bytes(view[16 : 16 + size]))
    offset, blobs = 16 + size, []
    for _ in range(count):
        length = _LENGTH.unpack_from(view, offset)[0]
        blobs.append(bytes(view[offset + 8 : offset + 8 + length]))
        offset += 8 + length

    def value(x: Any) -> Any:
        if isinstance(x, list):
            return [value(item) for item in x]
        if not isinstance(x, dict):
            return x
        ((tag, body),) = x.items()
        if tag == "$b":
            return blobs[body]
        if tag == "$p":
            return Path(body)
        if tag in ("$r", "$R"):
            inside = Path(folder, body)
            return inside if tag == "$R" else str(inside)
        if tag == "$t":
            return tuple(value(item) for item in body)
        if tag == "$d":
            return {value(k): value(v) for k, v in body}
        if tag in ("$a", "$n"):
            import numpy as np

            array = np.lib.format.read_array(io.BytesIO(blobs[body]), allow_pickle=False)
            return array[()] if tag == "$n" else array
        if tag == "$h":
            return from_handle(int(body))
        raise ValueError(f"unknown tag {tag!r} from the submission's process")

    return value(head)


def _array_bytes(x: Any) -> bytes | None:
    """A numpy array (or numpy scalar, as a 0-d array) in .npy form; None for anything else."""
    numpy = sys.modules.get("numpy")
    if numpy is None or not isinstance(x, (numpy.ndarray, numpy.generic)):
        return None
    array = numpy.asarray(x)
    if array.dtype.hasobject:
        return None
    buffer = io.BytesIO()
    numpy.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _is_numpy_scalar(x: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(x, numpy.generic)


def _send(fd: int, payload: bytes, deadline: float | None = None) -> None:
    data = memoryview(_LENGTH.pack(len(payload)) + payload)
    while data:
        _wait_until_ready(fd, deadline, writing=True)
        # with a deadline, no more than a pipe surely takes once select() says it has room
        data = data[os.write(fd, data if deadline is None else data[: select.PIPE_BUF]) :]


def _receive(fd: int, deadline: float | None = None) -> bytes | None:
    """One message, or None at end of file."""
    head = _read_exactly(fd, _LENGTH.size, deadline)
    if head is None:
        return None
    length = _LENGTH.unpack(head)[0]
    if length > _MAX_MESSAGE:
        raise SubmissionCrashed(f"the submission's process sent a {length}-byte message")
    body = _read_exactly(fd, length, deadline)
    if body is None:
        raise SubmissionCrashed("the submission's process ended in the middle of a reply")
    return body


def _read_exactly(fd: int, size: int, deadline: float | None = None) -> bytes | None:
    chunks, left = [], size
    while left:
        _wait_until_ready(fd, deadline, writing=False)
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _wait_until_ready(fd: int, deadline: float | None, writing: bool) -> None:
    """Return once `fd` can be written (or read) without blocking; SubmissionTimedOut at the
    deadline. Without a deadline, return at once: the call may block."""
    if deadline is None:
        return
    left = deadline - time.monotonic()
    readers, writers = ([], [fd]) if writing else ([fd], [])
    if left <= 0 or not any(select.select(readers, writers, [], left)[:2]):
        raise SubmissionTimedOut("the submission's process did not answer in the time it had")


# --- the eval side --------------------------------------------------------------------------


class _Control:
    """The eval side of the socket to BudgetML, which starts and ends submission processes.

    Each message is one datagram (a SOCK_SEQPACKET pair): `{"op": "start"}` is answered with
    `{"host": N, "meter": bool}` and the host's request and reply pipes (and its scheduler
    statistics, if `meter`) as passed descriptors; `{"op": "end", "host": N}` with `{}` once
    that host and all it started are dead.
    """

    def __init__(self, fd: int) -> None:
        self._socket = socket.socket(fileno=fd)

    def start(self) -> tuple[int, int, int, int | None]:
        """A new host: its number, request pipe, reply pipe and meter (or None)."""
        reply, fds = self._ask({"op": "start"}, 3)
        if "error" in reply or len(fds) < 2:
            for fd in fds:
                os.close(fd)
            why = reply.get("error", "BudgetML sent no pipes")
            raise SubmissionCrashed(f"the submission's process could not be started: {why}")
        meter = fds[2] if reply.get("meter") and len(fds) > 2 else None
        return int(reply["host"]), fds[0], fds[1], meter

    def end(self, number: int) -> None:
        self._ask({"op": "end", "host": number}, 0)

    def _ask(self, message: dict[str, Any], max_fds: int) -> tuple[dict[str, Any], list[int]]:
        try:
            self._socket.sendall(json.dumps(message).encode())
            data, fds, _, _ = socket.recv_fds(self._socket, 65536, max(max_fds, 1))
        except OSError as exc:
            return {"error": f"the channel to BudgetML failed ({exc.strerror})"}, []
        for fd in fds:  # eval.py's own subprocesses never hold a pipe to the submission
            os.set_inheritable(fd, False)
        if not data:
            return {"error": "BudgetML closed the channel"}, list(fds)
        return json.loads(data), list(fds)


class Host:
    """The eval side of the pipes to one submission process, started on the first request.

    `timeout_s`: how long the process may take, all its requests together, counted from its
    start; past it a request raises SubmissionTimedOut. None: no limit but the evaluation's.
    """

    def __init__(self, folder: Path, control: _Control, timeout_s: float | None = None) -> None:
        self.folder = folder.resolve()
        self._control, self._timeout_s = control, timeout_s
        self._number: int | None = None
        self._requests = self._replies = -1
        self._meter: int | None = None
        self._deadline: float | None = None
        self._broken: str | None = None

    def request(self, op: str, *args: Any) -> Any:
        payload = encode([op, *args], _handle_of, self.folder)
        return self._decode(self._exchange(payload))

    def close(self) -> None:
        """End the process and everything it started (BudgetML kills its sandbox)."""
        if self._broken is None:
            self._broken = "eval.py closed the submission's process"
        if self._number is None:
            return
        number, self._number = self._number, None
        for fd in (self._requests, self._replies, self._meter):
            if fd is not None and fd >= 0:
                os.close(fd)
        self._control.end(number)

    def _connect(self) -> None:
        if self._number is not None or self._broken:
            return
        self._number, self._requests, self._replies, self._meter = self._control.start()
        if self._timeout_s is not None:
            self._deadline = time.monotonic() + self._timeout_s

    def timed(self, op: str, *args: Any) -> tuple[Any, float]:
        """A request and how long the submission took for it: the wall-clock time of the round
        trip less the time the host's thread and ours spent ready to run but waiting for a CPU
        (Linux's schedstat; where it cannot be read, plain wall-clock time)."""
        payload = encode([op, *args], _handle_of, self.folder)
        self._connect()
        ours, theirs = _own_wait(), self._host_wait()
        started = time.perf_counter()
        raw = self._exchange(payload)
        elapsed = time.perf_counter() - started
        ours_after, theirs_after = _own_wait(), self._host_wait()
        waits = [
            max(0.0, after - before)
            for before, after in ((ours, ours_after), (theirs, theirs_after))
            if before is not None and after is not None
        ]
        # The two threads' waits can overlap (both ready at a hand-over), so only the longer
        # is left out; a wait as long as the call itself means the figure cannot be trusted,
        # and the wall-clock time stands (summing both gave 1e-9 s for a 0.65 ms call).
        waited = max(waits, default=0.0)
        return self._decode(raw, plain=True), elapsed - waited if waited < elapsed else elapsed

    def _exchange(self, payload: bytes) -> bytes:
        self._connect()
        if self._broken:
            raise SubmissionCrashed(self._broken)
        try:
            _send(self._requests, payload, self._deadline)
            reply = _receive(self._replies, self._deadline)
        except SubmissionTimedOut:
            self._broken = f"the submission's process took over {self._timeout_s:g} s"
            raise SubmissionTimedOut(self._broken) from None
        except OSError as exc:
            reply, why = None, exc.strerror
        else:
            why = "it exited"
        if reply is None:
            self._broken = f"the submission's process ended while eval.py was using it ({why})"
            raise SubmissionCrashed(self._broken)
        return reply

    def _decode(self, raw: bytes, plain: bool = False) -> Any:
        """The reply's value (or its exception, raised); `plain`: refuse handles in it."""
        handles: list[int] = []

        def remote(number: int) -> RemoteObject:
            handles.append(number)
            return RemoteObject(self, number)

        try:
            reply = decode(raw, remote)
            outcome, body = reply
        except Exception as exc:  # noqa: BLE001 - a malformed reply is the host's fault
            self._broken = f"the submission's process sent a malformed reply ({exc})"
            raise SubmissionCrashed(self._broken) from None
        if outcome != "ok":
            raise _local_exception(str(body[0]), str(body[1]))
        if plain and handles:
            raise TypeError(
                "a timed call must return plain data (numbers, strings, lists, dicts, numpy "
                "arrays), not an object of the submission: using that object would run the "
                "submission's work after the clock stopped"
            )
        return body

    def _host_wait(self) -> float | None:
        if self._meter is None:
            return None
        try:
            return int(os.pread(self._meter, 256, 0).split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            return None


def _own_wait() -> float | None:
    try:
        with open("/proc/thread-self/schedstat", "rb") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def _handle_of(x: Any) -> int | None:
    return object.__getattribute__(x, "_handle") if isinstance(x, RemoteObject) else None


def _local_exception(name: str, message: str) -> BaseException:
    """The host's exception as ours: a built-in type by its name, else a `RemoteError`."""
    known = getattr(builtins, name, None)
    if isinstance(known, type) and issubclass(known, Exception) and known.__module__ == "builtins":
        try:
            return known(message)
        except Exception:  # noqa: BLE001 - a built-in that takes other arguments
            pass
    safe = name if name.isidentifier() else "RemoteError"
    return type(safe, (RemoteError,), {})(message)


class RemoteObject:
    """An object that lives in the submission's process; using it sends a request there."""

    __slots__ = ("_host", "_handle")

    def __init__(self, host: Host, handle: int) -> None:
        object.__setattr__(self, "_host", host)
        object.__setattr__(self, "_handle", handle)

    def _ask(self, op: str, *args: Any) -> Any:
        return object.__getattribute__(self, "_host").request(op, self, *args)

    def __getattr__(self, name: str) -> Any:
        return self._ask("getattr", name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._ask("setattr", name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._ask("call", list(args), kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._ask("getitem", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._ask("setitem", key, value)

    def __len__(self) -> int:
        return int(self._ask("len"))

    def __iter__(self) -> Any:
        return iter(self._ask("list"))

    def __bool__(self) -> bool:
        return bool(self._ask("bool"))

    def __str__(self) -> str:
        return str(self._ask("str"))

    def __repr__(self) -> str:
        return str(self._ask("repr"))


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """`function(*args, **kwargs)` for a function of the submission, and the seconds it took
    (see `Host.timed`). For eval.py files that time the submission. The result must be plain
    data, computed before the clock stops (TypeError otherwise)."""
    if not isinstance(function, RemoteObject):
        raise TypeError("timed() takes a function or method of the submission")
    host = object.__getattribute__(function, "_host")
    return host.timed("call", function, list(args), kwargs)  # type: ignore[no-any-return]


_control: _Control | None = None
_submission: Path | None = None


def connect(submission: Path, control_fd: int, eval_folder: Path) -> None:
    """The eval driver's set-up: eval.py's imports of `submission`'s modules go to one host,
    started when first needed; `new_process` starts others. BudgetML holds the other end of
    `control_fd`."""
    global _control, _submission
    _control, _submission = _Control(control_fd), submission.resolve()
    install(Host(_submission, _control), eval_folder)


def new_process(timeout_s: float | None = None) -> SubmissionProcess:
    """A fresh process of the submission, for an evaluation whose steps must share nothing: a
    sandbox of its own with a fresh copy of the workspace, none of eval.py's files, and nothing
    an earlier process of the submission wrote or started. `timeout_s` bounds all its requests
    together (SubmissionTimedOut after it). Close it (or use it in a `with` block) before the
    next step: closing kills it and all it started."""
    if _control is None or _submission is None:
        raise RuntimeError("budgetml_submission.new_process() works only while BudgetML scores")
    return SubmissionProcess(Host(_submission, _control, timeout_s))


class SubmissionProcess:
    """One process of the submission (see `new_process`)."""

    def __init__(self, host: Host) -> None:
        self._host = host

    def module(self, path: str | PurePath, name: str | None = None) -> Any:
        """Run the submission's file `path` (relative to the submission folder) as module `name`
        (its stem by default) in this process; its attributes are used remotely."""
        file = Path(self._host.folder, path)
        if not _within(file, self._host.folder):
            raise ValueError(f"{path} is not a file of the submission")
        relative = file.resolve().relative_to(self._host.folder).as_posix()
        return self._host.request("load", relative, name or Path(relative).stem)

    def close(self) -> None:
        self._host.close()

    def __enter__(self) -> SubmissionProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def kept(function: Any, *args: Any, **kwargs: Any) -> Any:
    """`function(*args, **kwargs)` for a function of the submission, its result kept in the
    submission's process: a handle, even when the result is plain data (a model that would
    otherwise be copied back and forth on every call)."""
    if not isinstance(function, RemoteObject):
        raise TypeError("kept() takes a function or method of the submission")
    return function._ask("keep", list(args), kwargs)


class RemoteModule(types.ModuleType):
    """A module of the submission: attributes not set by the import system come from the host."""

    def __getattr__(self, name: str) -> Any:
        root = self.__dict__.get("_budgetml_remote")
        if root is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(root, name)

    def __setattr__(self, name: str, value: Any) -> None:
        root = self.__dict__.get("_budgetml_remote")
        if root is None or name.startswith("__") or name == "_budgetml_remote":
            super().__setattr__(name, value)
        else:
            setattr(root, name, value)


class _RemoteLoader(importlib.abc.Loader):
    def __init__(self, host: Host, path: Path) -> None:
        self.host, self.path = host, path

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return RemoteModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        relative = self.path.relative_to(self.host.folder).as_posix()
        root = self.host.request("load", relative, module.__name__)
        module.__dict__["_budgetml_remote"] = root
        with _suppressed():
            module.__dict__["__path__"] = list(root.__path__)


class _suppressed:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


class _SubmissionFinder(importlib.abc.MetaPathFinder):
    """Modules of the submission folder, for eval.py only, and only when nothing else has the name.

    A name found outside the folder (the standard library, installed packages, eval.py's own
    helpers) is never taken from it, and a library that probes for an optional module never
    gets the submission's: the folder on sys.path does not let its files shadow anything.
    """

    def __init__(self, host: Host, eval_folder: Path) -> None:
        self.host, self.eval_folder = host, eval_folder.resolve()

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        entries = list(sys.path if path is None else path)
        outside = [e for e in entries if not self._inside(e)]
        inside = [e for e in entries if self._inside(e)]
        if not inside:
            return None
        found_outside = (
            importlib.machinery.BuiltinImporter.find_spec(name)
            or importlib.machinery.FrozenImporter.find_spec(name)
            or importlib.machinery.PathFinder.find_spec(name, outside)
        )
        if found_outside is not None:
            return found_outside
        spec = importlib.machinery.PathFinder.find_spec(name, inside)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        if not _imported_by(self.eval_folder):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return remote_spec(self.host, name, Path(spec.origin))

    def _inside(self, entry: str) -> bool:
        return _within(Path(entry or "."), self.host.folder)


def remote_spec(host: Host, name: str, origin: Path) -> importlib.machinery.ModuleSpec:
    return importlib.machinery.ModuleSpec(
        name, _RemoteLoader(host, origin.resolve()), origin=str(origin)
    )


def _within(path: Path, folder: Path) -> bool:
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):
        return False
    return resolved == folder or folder in resolved.parents


def _imported_by(eval_folder: Path) -> bool:
    """Whether the import under way was asked for by code in `eval_folder` (eval.py and its
    helpers), not by a library eval.py uses."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        if not (name == __name__ or name.startswith(("importlib", "_frozen_importlib"))):
            return _within(Path(frame.f_code.co_filename), eval_folder)
        frame = frame.f_back
    return False


def install(host: Host, eval_folder: Path) -> None:
    """Send eval.py's imports of the submission's modules to the host, whichever way it asks.

    `import name` (with the folder on sys.path) and `importlib.util.spec_from_file_location`
    give remote modules; the file loaders refuse any other way of running a file of the folder
    here, so a missed spelling fails instead of running the submission in this process.
    """
    sys.meta_path.insert(0, _SubmissionFinder(host, eval_folder))
    original = importlib.util.spec_from_file_location

    def spec_from_file_location(name: str, location: Any = None, *args: Any, **kwargs: Any) -> Any:
        if location is not None and _within(Path(os.fspath(location)), host.folder):
            return remote_spec(host, name, Path(os.fspath(location)))
        return original(name, location, *args, **kwargs)

    importlib.util.spec_from_file_location = spec_from_file_location  # type: ignore[assignment]
    for loader in (
        importlib.machinery.SourceFileLoader,
        importlib.machinery.SourcelessFileLoader,
        importlib.machinery.ExtensionFileLoader,
    ):
        _guard(loader, host.folder)


def _guard(loader: type, folder: Path) -> None:
    for method in ("create_module", "exec_module"):
        original = getattr(loader, method)

        def guarded(self: Any, arg: Any, _original: Any = original) -> Any:
            if _within(Path(self.path), folder):
                raise ImportError(
                    f"{self.path} is the submission's code, which runs in its own process: "
                    "import it with `import` or importlib.util.spec_from_file_location"
                )
            return _original(self, arg)

        setattr(loader, method, guarded)


# --- the host side --------------------------------------------------------------------------


class _Kept:
    """A reply that is the handle to an object, whatever its type."""

    def __init__(self, handle: int) -> None:
        self.handle = handle


class _Objects:
    """The host's objects that the eval side holds handles to."""

    def __init__(self) -> None:
        self.by_handle: dict[int, Any] = {}
        self._ids: dict[int, int] = {}

    def handle(self, x: Any) -> int:
        known = self._ids.get(id(x))
        if known is not None and self.by_handle[known] is x:
            return known
        number = len(self.by_handle)
        self.by_handle[number] = x
        self._ids[id(x)] = number
        return number

    def handle_of(self, x: Any) -> int:
        return x.handle if isinstance(x, _Kept) else self.handle(x)


def serve(folder: str, requests: int, replies: int) -> None:
    """Answer requests until the eval side closes its end."""
    sys.path.insert(0, folder)
    objects = _Objects()
    while (raw := _receive(requests)) is not None:
        try:
            op, *args = decode(raw, objects.by_handle.__getitem__, folder)
            answer = _answer(op, args, folder)
            if op == "keep":  # a handle, even to plain data
                answer = _Kept(objects.handle(answer))
            payload = encode(["ok", answer], objects.handle_of)
        except BaseException as exc:  # noqa: BLE001 - the eval side decides what it means
            if not isinstance(exc, Exception):  # sys.exit() in a call ends the call, not the host
                exc = RuntimeError(f"{type(exc).__name__}({exc}) raised")
            payload = encode(["error", [type(exc).__name__, str(exc)]], objects.handle)
        _send(replies, payload)


def _answer(op: str, args: list[Any], folder: str) -> Any:
    if op == "load":
        relative, name = args
        spec = importlib.util.spec_from_file_location(name, Path(folder, relative))
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {relative}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    target, *rest = args
    if op == "getattr":
        return getattr(target, rest[0])
    if op == "setattr":
        setattr(target, rest[0], rest[1])
        return None
    if op in ("call", "keep"):
        return target(*rest[0], **rest[1])
    if op == "getitem":
        return target[rest[0]]
    if op == "setitem":
        target[rest[0]] = rest[1]
        return None
    if op == "len":
        return len(target)
    if op == "list":
        return list(target)
    if op == "bool":
        return bool(target)
    if op in ("str", "repr"):
        return str(target) if op == "str" else repr(target)
    raise ValueError(f"unknown request {op!r}")


def _serve_main(argv: list[str]) -> None:
    """`serve FOLDER`: requests on stdin, replies on stdout; the submission's own output (print)
    goes to stderr, so that it cannot be taken for a reply."""
    requests, replies = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    os.chdir(argv[1])
    serve(os.getcwd(), requests, replies)


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    _serve_main(sys.argv[1:])
