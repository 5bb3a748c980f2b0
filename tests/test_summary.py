import pytest

from budgetml.summary import RunSummary, improvement, is_success


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


@pytest.mark.parametrize(
    ("change", "higher", "noise", "expected"),
    [
        (-0.2, False, 0.05, True),  # quiet measurements: the paper's 10%
        (-0.2, False, 0.27, False),  # 20% faster, but the measurements varied by 27%
        (-0.3, False, 0.27, True),
        (0.2, True, 0.27, False),
        (0.3, True, 0.27, True),
    ],
)
def test_an_improvement_must_also_exceed_the_noise_of_the_measurements(
    change: float, higher: bool, noise: float, expected: bool
) -> None:
    assert is_success(change, higher, noise) is expected


def test_improvement_is_relative_to_the_baseline() -> None:
    assert improvement(3.0, 2.0) == pytest.approx(0.5)
    assert improvement(-1.0, -2.0) == pytest.approx(0.5)


def summary(**fields: object) -> RunSummary:
    base: dict[str, object] = {
        "task": "t", "config": "c", "seed": 0, "status": "completed", "steps": 5,
        "metric": "accuracy", "higher_is_better": True, "baseline": 0.6,
        "baseline_source": "task.yaml", "score": 0.4, "score_error": None,
        "improvement": -1 / 3, "success": False, "cost_usd": 0.0, "cost_usd_free_tier": 0.0,
        "spent_usd": 0.0, "tokens": {}, "escalations": 0, "expert_calls": 0,
        "format_failures": 0, "wall_seconds": 1.0, "final_answer": None, "error": None,
    }  # fmt: skip
    return RunSummary.model_validate({**base, **fields})


def test_a_summary_written_before_best_scores_existed_still_reads() -> None:
    old = summary()
    assert (old.best_score, old.best_step, old.best_success) == (None, None, False)
    assert old.best_before_last is False


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"best_score": 0.9, "best_step": 2}, True),  # improved, then ruined
        ({"best_score": 0.9, "best_step": 2, "score": None}, True),  # the last is invalid
        ({"best_score": 0.4, "best_step": 5}, False),  # the best is the last step
        ({"best_score": 0.4, "best_step": 2}, False),  # a tie is not better
        ({"best_score": 0.3, "best_step": 2, "higher_is_better": False}, True),
    ],
)
def test_the_best_came_before_the_last_step_only_when_it_beat_it(
    fields: dict[str, object], expected: bool
) -> None:
    assert summary(**fields).best_before_last is expected
