"""`summary.json`: what a run achieved and what it cost, and the success rule that decides it.

`score`, `improvement` and `success` are the last step's (the paper's rule); `best_*` are those
of the best-scoring step, whose workspace the run directory keeps (scorekeeper.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Status = Literal["completed", "max_steps", "budget_exhausted", "error"]
SUCCESS_THRESHOLD = 0.10


class RunSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    task: str
    config: str
    seed: int
    status: Status
    steps: int
    metric: str
    higher_is_better: bool
    direction_reason: str | None = None
    """Why the metric runs in that direction (task.yaml, the research problem's words, ...)."""
    direction_guessed: bool | None = None
    baseline: float | None
    baseline_source: str
    score: float | None
    score_error: str | None
    improvement: float | None
    success: bool
    best_score: float | None = None
    """The best score any step reached (summaries written before it existed: None)."""
    best_step: int | None = None
    best_improvement: float | None = None
    best_success: bool = False
    cost_usd: float
    cost_usd_free_tier: float
    spent_usd: float
    tokens: dict[str, dict[str, float | int]]
    escalations: int
    expert_calls: int
    format_failures: int
    wall_seconds: float
    final_answer: str | None
    error: str | None

    @property
    def best_before_last(self) -> bool:
        """An earlier step scored better than the last one (or the last one is invalid)."""
        if self.best_step is None or self.best_score is None or self.best_step >= self.steps:
            return False
        if self.score is None:
            return True
        return (
            self.best_score > self.score if self.higher_is_better else self.best_score < self.score
        )


def improvement(score: float | None, baseline: float | None) -> float | None:
    """Relative change, (score - baseline) / |baseline|, as MLAgentBench computes it."""
    if score is None or baseline is None or baseline == 0:
        return None
    return (score - baseline) / abs(baseline)


def is_success(change: float | None, higher_is_better: bool, noise: float = 0.0) -> bool:
    """More than 10% better than the baseline, in the metric's direction, and by more than
    the `noise` of the measurements (a timed task's, measured side by side at the end: on a
    busy machine the unchanged starter measured beside itself differs by more than 10%)."""
    if change is None:
        return False
    threshold = max(SUCCESS_THRESHOLD, noise)
    return change > threshold if higher_is_better else change < -threshold
