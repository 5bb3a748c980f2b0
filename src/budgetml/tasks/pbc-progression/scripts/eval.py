"""Scores a submission of pbc-progression: SMAPE (in percent) of the predicted next bilirubin.

`get_score(submission_folder)` reads `submission.csv` (columns row_id, next_bili; one row for
each row of data/test.csv) from the workspace and compares it with the held-out values in
`test_labels.csv`, which sits next to this file only at scoring time. SMAPE is the metric of the
AMP-PD Parkinson's progression competition: 100 * mean(|F - A| / ((|A| + |F|) / 2)), with 0
where both are 0. Lower is better. An invalid submission raises ValueError saying what is wrong.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ID, TARGET = "row_id", "next_bili"


def get_score(submission_folder: str) -> float:
    labels = pd.read_csv(HERE / "test_labels.csv", dtype={ID: str})
    submission = _read_submission(Path(submission_folder) / "submission.csv", labels[ID])
    forecast = submission.set_index(ID)[TARGET].reindex(labels[ID]).to_numpy(dtype=float)
    actual = labels[TARGET].to_numpy(dtype=float)
    denominator = (np.abs(actual) + np.abs(forecast)) / 2
    safe = np.where(denominator == 0, 1.0, denominator)
    ratio = np.where(denominator == 0, 0.0, np.abs(forecast - actual) / safe)
    return float(100 * np.mean(ratio))


def _read_submission(path: Path, expected_ids: pd.Series) -> pd.DataFrame:
    if not path.is_file():
        raise ValueError("submission.csv is missing; train.py should write it (row_id, next_bili)")
    try:
        submission = pd.read_csv(path, dtype={ID: str})
    except Exception as exc:
        raise ValueError(f"submission.csv is not a readable CSV file: {exc}") from exc
    missing = [c for c in (ID, TARGET) if c not in submission.columns]
    if missing:
        raise ValueError(
            f"submission.csv lacks the column(s) {', '.join(missing)}; it needs row_id and "
            f"next_bili (found: {', '.join(map(str, submission.columns))})"
        )
    ids = submission[ID].str.strip()
    if ids.isna().any():
        raise ValueError("submission.csv has an empty row_id")
    if ids.duplicated().any():
        raise ValueError(f"submission.csv repeats the row_id {ids[ids.duplicated()].iloc[0]}")
    wanted = set(expected_ids)
    extra = sorted(set(ids) - wanted)
    absent = sorted(wanted - set(ids))
    if absent or extra:
        raise ValueError(
            f"submission.csv must have one row per row of data/test.csv ({len(wanted)} rows): "
            f"{len(absent)} test row_id(s) missing (e.g. {absent[:3]}), {len(extra)} unknown "
            f"(e.g. {extra[:3]})"
        )
    values = pd.to_numeric(submission[TARGET], errors="coerce")
    if values.isna().any():
        raise ValueError("submission.csv has a next_bili that is empty, NaN or not a number")
    if not np.isfinite(values).all():
        raise ValueError("submission.csv has a next_bili that is infinite")
    return pd.DataFrame({ID: ids, TARGET: values.astype(float)})
