"""Scores a submission of ames-house-price: RMSE between log(predicted) and log(true) price.

`get_score(submission_folder)` reads `submission.csv` (columns Id, SalePrice; one row for each
house of data/test.csv) from the workspace and compares it with the held-out prices in
`test_labels.csv`, which sits next to this file only at scoring time. Lower is better (the
Kaggle house-prices metric). An invalid submission raises ValueError saying what is wrong.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ID, TARGET = "Id", "SalePrice"


def get_score(submission_folder: str) -> float:
    labels = pd.read_csv(HERE / "test_labels.csv")
    submission = _read_submission(Path(submission_folder) / "submission.csv", labels[ID])
    predicted = submission.set_index(ID)[TARGET].reindex(labels[ID]).to_numpy(dtype=float)
    true = labels[TARGET].to_numpy(dtype=float)
    return float(np.sqrt(np.mean((np.log(predicted) - np.log(true)) ** 2)))


def _read_submission(path: Path, expected_ids: pd.Series) -> pd.DataFrame:
    if not path.is_file():
        raise ValueError("submission.csv is missing; train.py should write it (Id, SalePrice)")
    try:
        submission = pd.read_csv(path)
    except Exception as exc:
        raise ValueError(f"submission.csv is not a readable CSV file: {exc}") from exc
    missing = [c for c in (ID, TARGET) if c not in submission.columns]
    if missing:
        raise ValueError(
            f"submission.csv lacks the column(s) {', '.join(missing)}; it needs Id and SalePrice "
            f"(found: {', '.join(map(str, submission.columns))})"
        )
    ids = pd.to_numeric(submission[ID], errors="coerce")
    if ids.isna().any():
        raise ValueError("submission.csv has an Id that is empty or not a number")
    if ids.duplicated().any():
        raise ValueError(f"submission.csv repeats the Id {int(ids[ids.duplicated()].iloc[0])}")
    wanted = set(expected_ids.astype(int))
    extra = sorted(set(ids.astype(int)) - wanted)
    absent = sorted(wanted - set(ids.astype(int)))
    if absent or extra:
        raise ValueError(
            f"submission.csv must have one row per house of data/test.csv ({len(wanted)} rows): "
            f"{len(absent)} test Id(s) missing (e.g. {absent[:3]}), {len(extra)} unknown Id(s) "
            f"(e.g. {extra[:3]})"
        )
    prices = pd.to_numeric(submission[TARGET], errors="coerce")
    if prices.isna().any():
        raise ValueError("submission.csv has a SalePrice that is empty, NaN or not a number")
    if not np.isfinite(prices).all() or (prices <= 0).any():
        raise ValueError("every SalePrice must be a finite positive number (the metric takes logs)")
    return pd.DataFrame({ID: ids.astype(int), TARGET: prices.astype(float)})
