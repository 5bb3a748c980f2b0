"""Timed tasks: workspaces measured in turn, so that a change in the machine's load falls on
each of them alike.

A time taken on a shared machine depends on what else runs there: measured a minute apart on
two busy CPUs, the same unchanged starter gave times a factor of two apart, so a baseline
measured at the start of a run and a final measured at its end let the load decide success
(benchmarks/noop_under_load.py). The end of a run therefore measures the unchanged starter and
the final workspace in turn (A B, B A, ...), the same number of times after the same warm-up,
and judges the final against that baseline (scorekeeper.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from budgetml.env.scoring import Score


@dataclass(frozen=True)
class Timing:
    """A workspace's measurements (a time or a rate each), or why they stopped."""

    values: tuple[float, ...] = ()
    error: str | None = None

    def best(self, higher_is_better: bool) -> float | None:
        """The best measurement: a busy moment only ever makes code look slower."""
        if self.error is not None or not self.values:
            return None
        return max(self.values) if higher_is_better else min(self.values)

    @property
    def spread(self) -> float:
        """How much the measurements differ, 1 - lowest / highest: the noise of a timing."""
        low, high = min(self.values, default=0.0), max(self.values, default=0.0)
        return 1 - low / high if low > 0 and len(self.values) > 1 else 0.0

    def score(self, higher_is_better: bool) -> Score:
        if self.error is not None:
            return Score(None, self.error)
        return Score(self.best(higher_is_better))


Measure = Callable[[Path], "float | str"]
"""One measurement of a workspace: its value, or why it failed."""
WarmUp = Callable[[Path], "str | None"]
"""A run before the measurements: None, or why it failed."""


def measure_in_turn(
    workspaces: Sequence[Path], times: int, measure: Measure, warm_up: WarmUp | None = None
) -> list[Timing]:
    """Each workspace warmed up once, then measured `times` times, taking turns: A B, then
    B A, and so on, so that neither always goes first. A workspace whose run fails drops out
    with the reason; the others go on."""
    values: list[list[float]] = [[] for _ in workspaces]
    errors: list[str | None] = [None for _ in workspaces]
    if warm_up is not None:
        for index, workspace in enumerate(workspaces):
            errors[index] = warm_up(workspace)
    for turn in range(times):
        order = list(enumerate(workspaces))
        for index, workspace in order if turn % 2 == 0 else reversed(order):
            if errors[index] is not None:
                continue
            result = measure(workspace)
            if isinstance(result, str):
                errors[index] = result
            else:
                values[index].append(result)
    return [Timing(tuple(v), e) for v, e in zip(values, errors, strict=True)]


def without_waiting(value: float, busy: float | None, higher_is_better: bool) -> float:
    """A time the script measured itself, less the share it spent waiting for a CPU (a rate:
    more); the built-in speed tasks leave that wait out the same way."""
    if busy is None or not 0 < busy <= 1:
        return value
    return value / busy if higher_is_better else value * busy
