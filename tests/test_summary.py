import pytest

from budgetml.summary import improvement, is_success


@pytest.mark.parametrize(
    ("score", "baseline", "higher", "expected"),
    [
        (0.67, 0.6, True, True),  # +11.7%
        (0.65, 0.6, True, False),  # +8.3%
        (0.8, 1.0, False, True),  # -20% runtime
        (0.95, 1.0, False, False),  # -5% runtime
        (2.0, 1.0, False, False),  # slower
        (None, 1.0, True, False),  # invalid score
        (1.0, None, True, False),  # unknown baseline
        (1.0, 0.0, True, False),  # undefined relative change
    ],
)
def test_success_means_more_than_ten_percent_better(
    score: float | None, baseline: float | None, higher: bool, expected: bool
) -> None:
    assert is_success(improvement(score, baseline), higher) is expected


def test_improvement_is_relative_to_the_baseline() -> None:
    assert improvement(3.0, 2.0) == pytest.approx(0.5)
    assert improvement(-1.0, -2.0) == pytest.approx(0.5)
