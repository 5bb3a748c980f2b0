"""Scores a tiny-llama-inference submission: greedy generation speed, in tokens per second.

`get_score(submission_folder)` imports `inference.py` from the workspace (under a module name
other than `__main__`, so its benchmark block does not run), loads the model with its
`load_model` from the workspace's data/model.npz, and times its `generate` on hidden batches of
prompts, a fresh batch for each timed run. Every run's tokens must be exactly those the original
implementation generates (`expected.json`, written by prepare.py with reference.py and copied next
to this file); otherwise the submission is invalid. The score is the best run's tokens per second.
Higher is better.

At scoring time BudgetML runs the imported inference.py in a process of its own (see BudgetML's
env/submission_host.py): nothing it does to its interpreter reaches this one, and
`budgetml_submission.timed` times each call from here. A run's time is its wall-clock time less
the time this thread and the submission's main thread spent ready to run but waiting for a CPU
held by other programs (Linux's schedstat): on a busy machine the plain wall-clock time of the
same code varies by 20% or more between evaluations. Time spent blocked (on helper threads or
processes) still counts, so off-loading work does not hide it. Where the scheduler statistics
cannot be read, the plain wall-clock time is used.
"""

from __future__ import annotations

import os

# As in the starter: one BLAS thread, so that the timing neither depends on nor suffers from
# other work on the machine. Set before numpy is imported, which is when numpy reads them.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import importlib.util  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

import budgetml_submission  # noqa: E402

HERE = Path(__file__).resolve().parent


def get_score(submission_folder: str) -> float:
    """The highest tokens per second over the timed runs, once every run's output is right."""
    folder = Path(submission_folder)
    expected = json.loads((HERE / "expected.json").read_text("utf-8"))
    submission = _load_submission(folder)
    try:
        model = submission.load_model(folder / "data" / "model.npz")
    except Exception as exc:
        raise ValueError(f"load_model raised {type(exc).__name__}: {exc}") from exc
    max_new_tokens = int(expected["max_new_tokens"])
    speeds = []
    for number, run in enumerate(expected["runs"], start=1):
        prompts = [list(prompt) for prompt in run["prompts"]]
        try:
            outputs, elapsed = budgetml_submission.timed(
                submission.generate, model, prompts, max_new_tokens
            )
        except Exception as exc:
            raise ValueError(f"generate raised {type(exc).__name__}: {exc}") from exc
        _check(outputs, run["outputs"], number)
        speeds.append(len(prompts) * max_new_tokens / elapsed)
    return max(speeds)


def _load_submission(folder: Path) -> ModuleType:
    path = folder / "inference.py"
    if not path.is_file():
        raise ValueError(f"inference.py is missing from the submission folder {folder}")
    spec = importlib.util.spec_from_file_location("budgetml_llama_submission", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ValueError(
            f"inference.py could not be imported: {type(exc).__name__}: {exc}"
        ) from exc
    for name in ("load_model", "generate"):
        if not callable(getattr(module, name, None)):
            raise ValueError(
                f"inference.py defines no function {name}; keep load_model(path) and "
                "generate(model, prompts, max_new_tokens), the evaluation calls them"
            )
    return module


def _check(outputs: Any, expected: list[list[int]], run: int) -> None:
    """Raise ValueError unless outputs holds exactly the expected token ids."""
    try:
        got = [[int(token) for token in tokens] for tokens in outputs]
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"generate must return one list of token ids per prompt; run {run} returned "
            f"{type(outputs).__name__}: {exc}"
        ) from exc
    if len(got) != len(expected):
        raise ValueError(
            f"generate returned {len(got)} sequences for {len(expected)} prompts (run {run})"
        )
    for index, (tokens, wanted) in enumerate(zip(got, expected, strict=True)):
        if tokens != wanted:
            if len(tokens) != len(wanted):
                where = f"{len(tokens)} tokens instead of {len(wanted)}"
            else:
                step = next(
                    i for i, (a, b) in enumerate(zip(tokens, wanted, strict=True)) if a != b
                )
                where = f"token {step} is {tokens[step]}, the original model gives {wanted[step]}"
            raise ValueError(
                f"the generated tokens differ from the original implementation's (run {run}, "
                f"prompt {index}: {where}); the output must stay exactly the same"
            )
