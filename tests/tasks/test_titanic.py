"""titanic's evaluation: accuracy of 0/1 (or False/True) answers; malformed ones are refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from budgetml.env.task import find_task
from tests.tasks.submissions import score_submission


@pytest.fixture
def truth() -> pd.DataFrame:
    task = find_task("titanic")
    task.prepare()
    return pd.read_csv(task.data_dir / "private" / "test_labels.csv")


def test_the_true_outcomes_score_one_as_numbers_or_booleans(
    truth: pd.DataFrame, tmp_path: Path
) -> None:
    assert score_submission("titanic", truth, tmp_path / "numbers").value == 1.0
    as_booleans = truth.assign(Survived=truth.Survived.astype(bool))
    assert score_submission("titanic", as_booleans, tmp_path / "booleans").value == 1.0


def test_predicting_that_nobody_survived_scores_the_share_of_deaths(
    truth: pd.DataFrame, tmp_path: Path
) -> None:
    nobody = truth.assign(Survived=0)
    assert score_submission("titanic", nobody, tmp_path).value == pytest.approx(
        (truth.Survived == 0).mean()
    )


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (lambda t: None, "submission.csv is missing"),
        (lambda t: t.rename(columns={"PassengerId": "Id"}), "lacks the column(s) PassengerId"),
        (lambda t: t.iloc[1:], "1 test PassengerId(s) missing"),
        (lambda t: t.assign(Survived=0.7), "Survived must be 0 or 1"),
        (lambda t: t.assign(Survived=t.Survived.where(t.index > 0)), "Survived must be 0 or 1"),
    ],
)
def test_a_malformed_submission_is_refused_with_the_reason(
    truth: pd.DataFrame, tmp_path: Path, broken, message: str
) -> None:
    score = score_submission("titanic", broken(truth), tmp_path)
    assert score.value is None
    assert message in (score.error or "")
