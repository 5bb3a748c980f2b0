"""Runs a task's `scripts/eval.py` and writes its verdict to a file descriptor only it holds.

`python budgetml_eval_driver.py EVAL_PY SUBMISSION RESULT_FD CONTROL_FD`: it loads eval.py,
calls `get_score(SUBMISSION)` and writes one JSON object (`{"score": x}` or `{"error": "..."}`)
to RESULT_FD. The verdict never travels on stdout, where anything eval.py starts can print.
The submission's modules, should eval.py import them, run in processes of their own that
BudgetML starts when asked on CONTROL_FD (`budgetml_submission.py`, copied next to this file),
never in this process.

This process makes itself non-dumpable, so that another process of the same user cannot read
its memory or open its file descriptors through /proc. It is copied next to a private copy of
the task's scripts and imports nothing from BudgetML: the interpreter that scores may not have
BudgetML installed.
"""

import importlib.util
import json
import math
import os
import sys
from pathlib import Path


def main() -> None:
    eval_path, submission, result_fd, control = sys.argv[1:5]
    _make_undumpable()
    for fd in (int(result_fd), int(control)):
        os.set_inheritable(fd, False)
    result: dict[str, object]
    try:
        import budgetml_submission as remote

        remote.connect(Path(submission), int(control), Path(eval_path).resolve().parent)
        spec = importlib.util.spec_from_file_location("task_eval", eval_path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["task_eval"] = module
        spec.loader.exec_module(module)
        value = float(module.get_score(submission))
        if math.isfinite(value):
            result = {"score": value}
        else:
            result = {"error": f"eval.py returned a non-finite score ({value})"}
    except BaseException as exc:  # noqa: BLE001 - any failure means an invalid submission
        result = {"error": f"{type(exc).__name__}: {exc}".strip()[:4_000]}
    # short enough for the pipe's buffer (the error is cut): BudgetML reads it once we have ended
    os.write(int(result_fd), json.dumps(result).encode("ascii"))
    os.close(int(result_fd))


def _make_undumpable() -> None:
    """prctl(PR_SET_DUMPABLE, 0): /proc/PID/mem, fd/ and environ become root's alone."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: there is no /proc to guard
        pass


if __name__ == "__main__":
    main()
