"""pbc-progression: SMAPE scoring, refusal of malformed submissions, and a split by patient in
which no test target can be read off another workspace row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from budgetml.env.task import find_task
from tests.tasks.submissions import score_submission


@pytest.fixture
def prepared() -> Path:
    task = find_task("pbc-progression")
    task.prepare()
    return task.data_dir


@pytest.fixture
def truth(prepared: Path) -> pd.DataFrame:
    return pd.read_csv(prepared / "private" / "test_labels.csv")


def test_the_true_values_score_zero_and_double_values_score_two_thirds(
    truth: pd.DataFrame, tmp_path: Path
) -> None:
    assert score_submission("pbc-progression", truth, tmp_path / "true").value == pytest.approx(0.0)
    doubled = truth.assign(next_bili=truth.next_bili * 2)
    assert score_submission(
        "pbc-progression", doubled, tmp_path / "doubled"
    ).value == pytest.approx(200 / 3)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (lambda t: None, "submission.csv is missing"),
        (lambda t: t.rename(columns={"next_bili": "bili"}), "lacks the column(s) next_bili"),
        (lambda t: t.iloc[1:], "1 test row_id(s) missing"),
        (lambda t: pd.concat([t, t.iloc[:1]]), "repeats the row_id"),
        (lambda t: t.assign(next_bili=t.next_bili.where(t.index > 0)), "NaN"),
    ],
)
def test_a_malformed_submission_is_refused_with_the_reason(
    truth: pd.DataFrame, tmp_path: Path, broken, message: str
) -> None:
    score = score_submission("pbc-progression", broken(truth), tmp_path)
    assert score.value is None
    assert message in (score.error or "")


def test_test_patients_are_unseen_and_show_no_visit_after_their_query(prepared: Path) -> None:
    data = prepared / "env" / "data"
    train = pd.read_csv(data / "train.csv")
    history = pd.read_csv(data / "test_history.csv")
    test = pd.read_csv(data / "test.csv")
    assert not set(test.patient_id) & set(train.patient_id)
    assert test.patient_id.is_unique
    query_visit = test.set_index("patient_id").visit
    assert (history.visit < history.patient_id.map(query_visit)).all()
    assert "futime" not in test.columns and "status" not in test.columns
