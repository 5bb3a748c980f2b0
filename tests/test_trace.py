from pathlib import Path

import pytest

from budgetml.trace import StepDone, StepScored, Trace, TraceError, read_events


def step(number: int) -> StepDone:
    return StepDone(step=number, action="List Files", action_input={}, observation="")


def test_events_are_appended_and_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    trace = Trace(path)
    trace.write(step(1))
    trace.write(step(2))
    trace.close()
    with path.open("a") as handle:
        handle.write('{"event": "step", "step": 3, "act')
    events = read_events(path)
    assert [e.step for e in events if isinstance(e, StepDone)] == [1, 2]
    assert all(e.time is not None for e in events)


def test_a_line_in_the_format_of_an_older_trace_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_text('{"event": "score", "time": 1.0, "value": 0.5, "error": null}\n')
    (score,) = read_events(path)
    assert isinstance(score, StepScored) and (score.step, score.value, score.final) == (
        None,
        0.5,
        False,
    )


def test_an_event_of_an_unknown_kind_is_left_out(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_text('{"event": "from_a_newer_version", "time": 1.0}\n')
    assert read_events(path) == []


def test_a_complete_line_that_is_not_our_event_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    with Trace(path) as trace:
        trace.write(step(1))
    with path.open("a") as handle:
        handle.write('{"event": "step", "step": "two"}\n')
    with pytest.raises(TraceError, match="line 2 does not read as a BudgetML step event"):
        read_events(path)
