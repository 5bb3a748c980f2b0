"""clrs-traces' evaluation: pointer accuracy over every test node; malformed answers are refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from budgetml.env.task import find_task
from tests.tasks.submissions import score_submission


@pytest.fixture
def truth() -> pd.DataFrame:
    task = find_task("clrs-traces")
    task.prepare()
    pi = np.load(task.data_dir / "private" / "test_pi.npy")
    graphs, n = pi.shape
    return pd.DataFrame(
        {
            "graph": np.repeat(np.arange(graphs), n),
            "node": np.tile(np.arange(n), graphs),
            "pi": pi.reshape(-1),
        }
    )


def test_the_true_pointers_score_one_in_any_row_order(truth: pd.DataFrame, tmp_path: Path) -> None:
    assert score_submission("clrs-traces", truth, tmp_path / "ordered").value == 1.0
    shuffled = truth.sample(frac=1.0, random_state=0)
    assert score_submission("clrs-traces", shuffled, tmp_path / "shuffled").value == 1.0


def test_pointing_every_node_to_itself_scores_the_share_of_such_nodes(
    truth: pd.DataFrame, tmp_path: Path
) -> None:
    to_self = truth.assign(pi=truth.node)
    expected = (truth.pi == truth.node).mean()
    assert score_submission("clrs-traces", to_self, tmp_path).value == pytest.approx(expected)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (lambda t: None, "submission.csv is missing"),
        (lambda t: t.rename(columns={"pi": "pointer"}), "expected ['graph', 'node', 'pi']"),
        (lambda t: t.iloc[1:], "expected 12800"),
        (lambda t: t.assign(node=0), "each pair exactly once"),
        (lambda t: t.assign(pi=64), "node indices in 0..63"),
        (lambda t: t.assign(pi=t.pi.where(t.index > 0)), "missing values"),
        (lambda t: t.assign(pi=0.5), "integers only"),
    ],
)
def test_a_malformed_submission_is_refused_with_the_reason(
    truth: pd.DataFrame,
    tmp_path: Path,
    broken: Callable[[pd.DataFrame], pd.DataFrame | None],
    message: str,
) -> None:
    score = score_submission("clrs-traces", broken(truth), tmp_path)
    assert score.value is None
    assert message in (score.error or "")
