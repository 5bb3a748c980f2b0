"""Runs a task's `scripts/eval.py` in a child process and prints one marked JSON result line.

It is copied next to a private copy of the task's scripts and run there, so it imports nothing
from BudgetML: the interpreter that scores may not have BudgetML installed.
"""

import importlib.util
import json
import math
import sys

MARKER = "@@budgetml-score@@"


def main() -> None:
    eval_path, submission_folder = sys.argv[1], sys.argv[2]
    result: dict[str, object]
    try:
        spec = importlib.util.spec_from_file_location("task_eval", eval_path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        value = float(module.get_score(submission_folder))
        if math.isfinite(value):
            result = {"score": value}
        else:
            result = {"error": f"eval.py returned a non-finite score ({value})"}
    except BaseException as exc:  # noqa: BLE001 - any failure means an invalid submission
        result = {"error": f"{type(exc).__name__}: {exc}".strip()}
    print("\n" + MARKER + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
