"""Scores a tweet-engagement submission: MCRMSE of its two predicted targets on the test tweets.

`get_score(submission_folder)` reads `submission.csv` from the workspace (`id,log_retweets,
log_favorites`) and compares it with the held-out values in `test_labels.csv`, which sits next to
this file at scoring time. MCRMSE, the metric of the Feedback Prize competition, is the root mean
squared error of each target column, averaged over the columns. Lower is better. An invalid
submission raises ValueError with a one-line message saying what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TARGETS = ["log_retweets", "log_favorites"]


def get_score(submission_folder: str) -> float:
    labels = pd.read_csv(HERE / "test_labels.csv")
    submission = read_submission(Path(submission_folder) / "submission.csv", labels["id"])
    errors = submission[TARGETS].to_numpy() - labels[TARGETS].to_numpy()
    return float(np.mean(np.sqrt(np.mean(errors**2, axis=0))))


def read_submission(path: Path, ids: pd.Series) -> pd.DataFrame:
    """The submission's rows in the order of `ids`, once its shape and values are checked."""
    if not path.is_file():
        raise ValueError(f"submission.csv is missing from {path.parent}; run train.py to write it")
    try:
        submission = pd.read_csv(path)
    except Exception as exc:
        raise ValueError(f"submission.csv could not be read as CSV: {exc}") from exc
    expected = ["id", *TARGETS]
    if list(submission.columns) != expected:
        raise ValueError(
            f"submission.csv must have the columns {','.join(expected)}; "
            f"it has {','.join(map(str, submission.columns))}"
        )
    if len(submission) != len(ids):
        raise ValueError(f"submission.csv has {len(submission)} rows; the test set has {len(ids)}")
    if submission["id"].duplicated().any():
        raise ValueError("submission.csv repeats some ids; give one row per test tweet")
    if set(submission["id"].tolist()) != set(ids.tolist()):
        raise ValueError(
            "submission.csv's ids are not the test set's ids (the id column of data/test.csv)"
        )
    values = submission[TARGETS].apply(pd.to_numeric, errors="coerce")
    if not np.isfinite(values.to_numpy(dtype=float)).all():
        raise ValueError("submission.csv has empty, non-numeric, NaN or infinite predictions")
    values.insert(0, "id", submission["id"])
    return values.set_index("id").loc[ids.to_numpy()].reset_index()
