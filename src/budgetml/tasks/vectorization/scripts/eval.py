"""Scores a submission of the vectorization task: the run time of `Conv2DLayer.forward`, in seconds.

`get_score(submission_folder)` imports `train.py` from the agent's workspace (under a module name
other than `__main__`, so its main block does not run), checks that its layer computes exactly
what the original loop implementation in `reference.py` computes, then times `forward` on
batches of the same shape, a fresh random batch for each timed run (so that remembering an
earlier answer does not help), and checks every image of every timed output. Lower is better.
An invalid submission raises an exception whose message says why. Weights and batches are
drawn from a seed no one knows in advance (a seed written here, in a published file, would let
a layer work out every answer before it is timed), and no image goes unchecked (a layer that
knew which would compute only those).

At scoring time BudgetML runs the imported train.py in a process of its own (see BudgetML's
env/submission_host.py): nothing it does to its interpreter reaches this one, and
`budgetml_submission.timed` times each call from here. A run's time is its wall-clock time less
the time this thread and the submission's spent ready to run but waiting for a CPU held by other
programs (Linux's schedstat): on a busy machine plain wall-clock times of the same code vary by
20% or more. Where Linux won't say, wall time is used.
"""

from __future__ import annotations

import importlib.util
import secrets
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import budgetml_submission
import numpy as np

HERE = Path(__file__).resolve().parent

RTOL = 1e-6
ATOL = 1e-8

# (input shape, Conv2DLayer constructor arguments) for the correctness check:
# (input_channels, num_filters, kernel_size, stride, padding, activation).
CHECK_CASES: tuple[tuple[tuple[int, int, int, int], tuple[Any, ...]], ...] = (
    ((2, 12, 12, 3), (3, 4, 3, 1, 0, "relu")),
    ((2, 12, 12, 3), (3, 4, 3, 1, 2, "relu")),
    ((2, 12, 12, 3), (3, 8, 3, 2, 0, "relu")),
    ((2, 12, 12, 3), (3, 8, 3, 2, 2, "relu")),
    ((2, 11, 9, 3), (3, 5, 5, 3, 1, "relu")),  # non-square input, larger kernel and stride
)

# The benchmark: the same layer and batch size as train.py's main block.
BENCH_SHAPE = (8, 64, 64, 3)  # smaller than train.py's batch, so the minimum of 3+ runs is cheap
BENCH_ARGS: tuple[Any, ...] = (3, 8, 3, 2, 2, "relu")
MIN_REPEATS = 3  # the minimum of several runs keeps the baseline from being a noisy outlier
MAX_REPEATS = 10
MIN_TOTAL_S = 1.0


def get_score(submission_folder: str) -> float:
    """The fastest of a few timed `forward` runs, in seconds, once the output is known correct."""
    submission = _load_submission(Path(submission_folder))
    reference = _load_module(HERE / "reference.py", "budgetml_vectorization_reference")
    rng = np.random.default_rng(secrets.randbits(128))
    for shape, args in CHECK_CASES:
        _check_case(submission, reference, shape, args, rng)
    return _benchmark(submission, reference, rng)


def _load_submission(folder: Path) -> ModuleType:
    train = folder / "train.py"
    if not train.is_file():
        raise FileNotFoundError(f"train.py is missing from the submission folder {folder}")
    try:
        module = _load_module(train, "budgetml_vectorization_submission")
    except Exception as exc:
        raise ValueError(f"train.py could not be imported: {type(exc).__name__}: {exc}") from exc
    if not callable(getattr(module, "Conv2DLayer", None)):
        raise ValueError(
            "train.py defines no Conv2DLayer class; keep the class name, its constructor "
            "signature and its methods, since the evaluation builds the layer from train.py"
        )
    return module


def _load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _build(
    module: ModuleType, args: tuple[Any, ...], kernels: np.ndarray, biases: np.ndarray
) -> Any:
    """`module.Conv2DLayer(*args)` with the given weights set on it."""
    call = f"Conv2DLayer{args!r}"
    try:
        layer = module.Conv2DLayer(*args)
    except Exception as exc:
        raise ValueError(f"{call} failed: {type(exc).__name__}: {exc}") from exc
    for attribute in ("kernel_matrices", "biases"):
        if not hasattr(layer, attribute):
            raise ValueError(
                f"{call} has no attribute {attribute!r}; keep the kernel_matrices and biases "
                "attributes, the evaluation sets the weights through them"
            )
    layer.kernel_matrices = kernels.copy()
    layer.biases = biases.copy()
    return layer


def _forward(layer: Any, features: np.ndarray, call: str) -> np.ndarray:
    """`layer.forward` on a copy of `features` (so it may work in place), as a float64 array."""
    try:
        output = layer.forward(features.copy())
    except Exception as exc:
        raise ValueError(f"{call}.forward raised {type(exc).__name__}: {exc}") from exc
    return _as_array(output, call)


def _as_array(output: Any, call: str) -> np.ndarray:
    try:
        return np.asarray(output, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{call}.forward returned something that is not an array: {exc}") from exc


def _weights(args: tuple[Any, ...], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    input_channels, num_filters, kernel_size = args[:3]
    kernels = rng.standard_normal((kernel_size, kernel_size, input_channels, num_filters))
    biases = rng.standard_normal((1, 1, 1, num_filters))
    return kernels, biases


def _compare(output: np.ndarray, expected: np.ndarray, what: str) -> None:
    if output.shape != expected.shape:
        raise ValueError(
            f"output differs from the original implementation: {what} gives shape "
            f"{output.shape}, the original gives {expected.shape}"
        )
    close = np.isclose(output, expected, rtol=RTOL, atol=ATOL)
    if not close.all():
        finite = np.isfinite(output)
        worst = float(np.abs(output - expected)[finite].max()) if finite.any() else float("nan")
        bad = int((~finite).sum())
        not_finite = f", {bad} of them NaN or infinite" if bad else ""
        raise ValueError(
            f"output differs from the original implementation: {what} has max abs difference "
            f"{worst:.3g} (allowed: rtol={RTOL:g}, atol={ATOL:g}); {int((~close).sum())} of "
            f"{expected.size} values differ{not_finite}"
        )


def _check_case(
    submission: ModuleType,
    reference: ModuleType,
    shape: tuple[int, ...],
    args: tuple[Any, ...],
    rng: np.random.Generator,
) -> None:
    features = rng.standard_normal(shape)
    kernels, biases = _weights(args, rng)
    call = f"Conv2DLayer{args!r}"
    expected = _build(reference, args, kernels, biases).forward(features.copy())
    output = _forward(_build(submission, args, kernels, biases), features, call)
    _compare(output, expected, f"{call} on input of shape {shape}")


def _benchmark(submission: ModuleType, reference: ModuleType, rng: np.random.Generator) -> float:
    kernels, biases = _weights(BENCH_ARGS, rng)
    call = f"Conv2DLayer{BENCH_ARGS!r}"
    layer = _build(submission, BENCH_ARGS, kernels, biases)
    original = _build(reference, BENCH_ARGS, kernels, biases)

    # At least MIN_REPEATS runs, then more until MIN_TOTAL_S has passed (at most MAX_REPEATS);
    # the fastest run counts.
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < MIN_REPEATS or (
        len(times) < MAX_REPEATS and time.perf_counter() - started < MIN_TOTAL_S
    ):
        features = rng.standard_normal(BENCH_SHAPE)
        try:
            raw, elapsed = budgetml_submission.timed(layer.forward, features.copy())
        except Exception as exc:
            raise ValueError(f"{call}.forward raised {type(exc).__name__}: {exc}") from exc
        times.append(elapsed)
        output = _as_array(raw, call)
        _compare(output, original.forward(features), f"{call} on the benchmark batch")
    return min(times)
