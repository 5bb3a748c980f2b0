"""Scores a clrs-traces submission: accuracy of the predicted BFS pointers on the test graphs.

`get_score(submission_folder)` reads `submission.csv` from the workspace (columns graph, node,
pi; one row per node of every test graph) and compares `pi` with the true predecessor pointers,
`test_pi.npy`, which the system copies next to this file. Higher is better.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
COLUMNS = ["graph", "node", "pi"]


def get_score(submission_folder: str) -> float:
    """The fraction of test nodes whose predicted pointer is the true one."""
    truth = np.load(HERE / "test_pi.npy")
    predicted = _read_submission(Path(submission_folder) / "submission.csv", truth.shape)
    return float((predicted == truth).mean())


def _read_submission(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    graphs, n = shape
    if not path.is_file():
        raise ValueError(f"submission.csv is missing from {path.parent}; run train.py to write it")
    try:
        frame = pd.read_csv(path)
    except Exception as exc:
        raise ValueError(f"submission.csv could not be read as CSV: {exc}") from exc
    if list(frame.columns) != COLUMNS:
        raise ValueError(f"submission.csv has columns {list(frame.columns)}, expected {COLUMNS}")
    if len(frame) != graphs * n:
        raise ValueError(
            f"submission.csv has {len(frame)} rows, expected {graphs * n} "
            f"({graphs} test graphs x {n} nodes)"
        )
    if frame.isna().any().any():
        raise ValueError("submission.csv has missing values")
    for column in COLUMNS:
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any() or (values != values.round()).any():
            raise ValueError(f"submission.csv column {column!r} must hold integers only")
    frame = frame.astype(np.int64).sort_values(["graph", "node"], kind="stable")
    expected_ids = (np.repeat(np.arange(graphs), n), np.tile(np.arange(n), graphs))
    if not (
        np.array_equal(frame["graph"].to_numpy(), expected_ids[0])
        and np.array_equal(frame["node"].to_numpy(), expected_ids[1])
    ):
        raise ValueError(
            f"submission.csv must have one row per (graph, node) with graph in 0..{graphs - 1} "
            f"and node in 0..{n - 1}, each pair exactly once"
        )
    pi = frame["pi"].to_numpy()
    if pi.min() < 0 or pi.max() >= n:
        raise ValueError(f"submission.csv column 'pi' must hold node indices in 0..{n - 1}")
    return pi.reshape(graphs, n)
