"""ames-house-price's evaluation: a right submission scores 0, a malformed one is refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from budgetml.env.task import find_task
from tests.tasks.submissions import score_submission


@pytest.fixture
def truth() -> pd.DataFrame:
    task = find_task("ames-house-price")
    task.prepare()
    return pd.read_csv(task.data_dir / "private" / "test_labels.csv")


def test_the_true_prices_score_zero(truth: pd.DataFrame, tmp_path: Path) -> None:
    assert score_submission("ames-house-price", truth, tmp_path).value == pytest.approx(0.0)


def test_prices_off_by_ten_percent_score_the_log_of_that_ratio(
    truth: pd.DataFrame, tmp_path: Path
) -> None:
    scaled = truth.assign(SalePrice=truth.SalePrice * 1.1)
    assert score_submission("ames-house-price", scaled, tmp_path).value == pytest.approx(
        0.0953, abs=1e-4
    )


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (lambda t: None, "submission.csv is missing"),
        (lambda t: t.rename(columns={"SalePrice": "Sale_Price"}), "lacks the column(s) SalePrice"),
        (lambda t: t.iloc[1:], "1 test Id(s) missing"),
        (lambda t: pd.concat([t, t.iloc[:1]]), "repeats the Id"),
        (lambda t: t.assign(SalePrice=t.SalePrice.where(t.index > 0)), "NaN"),
        (lambda t: t.assign(SalePrice=-t.SalePrice), "finite positive"),
    ],
)
def test_a_malformed_submission_is_refused_with_the_reason(
    truth: pd.DataFrame, tmp_path: Path, broken, message: str
) -> None:
    score = score_submission("ames-house-price", broken(truth), tmp_path)
    assert score.value is None
    assert message in (score.error or "")
