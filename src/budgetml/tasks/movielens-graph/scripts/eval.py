"""Scores a submission of the movielens-graph task: accuracy of the predicted genres.

`get_score(submission_folder)` reads `submission.csv` (columns `movie,genre`, one row per test
movie of data/test_nodes.csv) and compares it with the held-out labels in `test_labels.csv`,
which sits next to this file at scoring time. An invalid submission raises ValueError.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def get_score(submission_folder: str) -> float:
    truth = pd.read_csv(HERE / "test_labels.csv")
    path = Path(submission_folder) / "submission.csv"
    if not path.is_file():
        raise ValueError("submission.csv is missing: run train.py, which writes it")
    try:
        submission = pd.read_csv(path)
    except Exception as exc:
        raise ValueError(f"submission.csv is not a readable CSV file: {exc}") from exc
    missing = {"movie", "genre"} - set(submission.columns)
    if missing:
        raise ValueError(
            f"submission.csv lacks the column(s) {', '.join(sorted(missing))}; "
            f"it needs movie,genre (it has {', '.join(map(str, submission.columns))})"
        )
    if submission[["movie", "genre"]].isna().any().any():
        raise ValueError("submission.csv has empty or NaN values in movie or genre")
    if not pd.api.types.is_integer_dtype(submission["movie"]):
        raise ValueError("submission.csv: the movie column must hold integer node ids")
    if submission["movie"].duplicated().any():
        raise ValueError("submission.csv lists some movies more than once")
    expected, given = set(truth["movie"]), set(submission["movie"])
    if given != expected:
        raise ValueError(
            f"submission.csv must have one row for each of the {len(expected)} movies of "
            f"data/test_nodes.csv: {len(expected - given)} missing, "
            f"{len(given - expected)} not test movies"
        )
    genres = set(truth["genre"])
    unknown = set(submission["genre"].astype(str)) - genres
    if unknown:
        raise ValueError(
            f"submission.csv has genres that are not classes: {sorted(unknown)[:5]} "
            f"(the classes: {', '.join(sorted(genres))})"
        )
    merged = truth.merge(submission[["movie", "genre"]], on="movie", suffixes=("", "_pred"))
    return float((merged["genre"] == merged["genre_pred"].astype(str)).mean())
