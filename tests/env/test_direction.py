"""A folder without task.yaml is judged in the direction its research problem and name give."""

from __future__ import annotations

import pytest

from budgetml.env.direction import guess_direction

LOWER = [
    "The evaluation metric is the root mean squared error of the predictions (lower is better).",
    "Train a model. Submissions are evaluated on RMSE between predicted and observed prices.",
    "Your goal is to minimise the mean absolute error on the test set.",
    "Submissions are scored using MCRMSE, mean columnwise root mean squared error.",
    "Predict the progression. The metric is SMAPE.",
    "Train a language model; it is evaluated by its perplexity on held-out text.",
    "Improve the execution speed of train.py.",
    "The smaller the log loss, the better.",
]
HIGHER = [
    "Improve the validation accuracy of train.py. The loss is printed every epoch.",
    "The evaluation metric is the F1 score (higher is better).",
    "Maximise the AUC on the held-out set; minimising the training loss alone is not enough.",
    "Submissions are evaluated on accuracy. Fix the error in train.py first.",
]


@pytest.mark.parametrize("problem", LOWER)
def test_errors_losses_and_times_are_lower_is_better(problem: str) -> None:
    direction = guess_direction("some-task", problem)
    assert direction.higher_is_better is False, direction


@pytest.mark.parametrize("problem", HIGHER)
def test_accuracy_and_the_like_are_higher_is_better(problem: str) -> None:
    direction = guess_direction("some-task", problem)
    assert direction.higher_is_better is True, direction


@pytest.mark.parametrize(
    ("name", "higher"),
    [
        ("house-price", False),
        ("parkinsons-disease", False),
        ("feedback", False),
        ("babylm", False),
        ("cifar10", True),
        ("spaceship-titanic", True),
    ],
)
def test_mlagentbench_task_names_are_known(name: str, higher: bool) -> None:
    direction = guess_direction(name, "Train a model to get a better performance.")
    assert (direction.higher_is_better, direction.guessed) == (higher, False)
    assert "MLAgentBench" in direction.reason


def test_stated_words_are_not_a_guess_and_inferred_ones_are() -> None:
    stated = guess_direction("t", "The metric is RMSE (lower is better).")
    inferred = guess_direction("t", "The metric is RMSE.")
    nothing = guess_direction("t", "Make train.py better.")
    assert (stated.guessed, inferred.guessed, nothing.guessed) == (False, True, True)
    assert "lower is better" in stated.reason and "RMSE" in inferred.reason
    assert nothing.higher_is_better is True
