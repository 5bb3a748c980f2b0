"""Scores a fine-food-reviews submission: the accuracy of its most probable class on the test set.

`get_score(submission_folder)` reads `submission.csv` from the workspace (`id`, then the
probabilities of class `0`, "other", and class `1`, "great") and compares each row's most
probable class with the held-out labels in `test_labels.csv`, which sits next to this file at
scoring time. Higher is better. An invalid submission raises ValueError with a one-line message
saying what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CLASS_COLUMNS = ["0", "1"]


def get_score(submission_folder: str) -> float:
    labels = pd.read_csv(HERE / "test_labels.csv")
    submission = read_submission(Path(submission_folder) / "submission.csv", labels["id"])
    predicted = submission[CLASS_COLUMNS].to_numpy().argmax(axis=1)
    return float((predicted == labels["label"].to_numpy()).mean())


def read_submission(path: Path, ids: pd.Series) -> pd.DataFrame:
    """The submission's rows in the order of `ids`, once its shape and values are checked."""
    if not path.is_file():
        raise ValueError(f"submission.csv is missing from {path.parent}; run train.py to write it")
    try:
        submission = pd.read_csv(path)
    except Exception as exc:
        raise ValueError(f"submission.csv could not be read as CSV: {exc}") from exc
    expected = ["id", *CLASS_COLUMNS]
    if list(submission.columns) != expected:
        raise ValueError(
            f"submission.csv must have the columns {','.join(expected)}; "
            f"it has {','.join(map(str, submission.columns))}"
        )
    if len(submission) != len(ids):
        raise ValueError(f"submission.csv has {len(submission)} rows; the test set has {len(ids)}")
    if submission["id"].duplicated().any():
        raise ValueError("submission.csv repeats some ids; give one row per test review")
    if set(submission["id"].tolist()) != set(ids.tolist()):
        raise ValueError(
            "submission.csv's ids are not the test set's ids (the id column of data/test.csv)"
        )
    values = submission[CLASS_COLUMNS].apply(pd.to_numeric, errors="coerce")
    if not np.isfinite(values.to_numpy(dtype=float)).all():
        raise ValueError("submission.csv has empty, non-numeric, NaN or infinite probabilities")
    values.insert(0, "id", submission["id"])
    return values.set_index("id").loc[ids.to_numpy()].reset_index()
