"""Scores a submission of titanic: the accuracy of the predicted survival of test passengers.

`get_score(submission_folder)` reads `submission.csv` (columns PassengerId, Survived; one row
for each passenger of data/test.csv; Survived is 0/1 or False/True) from the workspace and
compares it with the held-out outcomes in `test_labels.csv`, which sits next to this file only
at scoring time. Higher is better. An invalid submission raises ValueError saying what is wrong.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ID, TARGET = "PassengerId", "Survived"
_AS_BINARY = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}


def get_score(submission_folder: str) -> float:
    labels = pd.read_csv(HERE / "test_labels.csv")
    submission = _read_submission(Path(submission_folder) / "submission.csv", labels[ID])
    predicted = submission.set_index(ID)[TARGET].reindex(labels[ID]).to_numpy()
    return float(np.mean(predicted == labels[TARGET].to_numpy()))


def _read_submission(path: Path, expected_ids: pd.Series) -> pd.DataFrame:
    if not path.is_file():
        raise ValueError(
            "submission.csv is missing; train.py should write it (PassengerId, Survived)"
        )
    try:
        submission = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise ValueError(f"submission.csv is not a readable CSV file: {exc}") from exc
    missing = [c for c in (ID, TARGET) if c not in submission.columns]
    if missing:
        raise ValueError(
            f"submission.csv lacks the column(s) {', '.join(missing)}; it needs PassengerId and "
            f"Survived (found: {', '.join(map(str, submission.columns))})"
        )
    ids = pd.to_numeric(submission[ID].str.strip(), errors="coerce")
    if ids.isna().any():
        raise ValueError("submission.csv has a PassengerId that is empty or not a number")
    if ids.duplicated().any():
        raise ValueError(
            f"submission.csv repeats the PassengerId {int(ids[ids.duplicated()].iloc[0])}"
        )
    wanted = set(expected_ids.astype(int))
    extra = sorted(set(ids.astype(int)) - wanted)
    absent = sorted(wanted - set(ids.astype(int)))
    if absent or extra:
        raise ValueError(
            f"submission.csv must have one row per passenger of data/test.csv ({len(wanted)} "
            f"rows): {len(absent)} test PassengerId(s) missing (e.g. {absent[:3]}), "
            f"{len(extra)} unknown (e.g. {extra[:3]})"
        )
    survived = submission[TARGET].str.strip().str.lower().map(_AS_BINARY)
    if survived.isna().any():
        bad = submission[TARGET][survived.isna()].iloc[0]
        raise ValueError(f"Survived must be 0 or 1 (or False/True); submission.csv has {bad!r}")
    return pd.DataFrame({ID: ids.astype(int), TARGET: survived.astype(int)})
