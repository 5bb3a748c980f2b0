from pathlib import Path

from budgetml.trace import Trace, read_trace


def test_events_are_appended_and_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    trace = Trace(path)
    trace.record("step", step=1, action="List Files")
    trace.record("step", step=2, action="Read File")
    trace.close()
    with path.open("a") as handle:
        handle.write('{"event": "step", "step": 3, "act')
    events = read_trace(path)
    assert [e["step"] for e in events] == [1, 2]
    assert all("time" in e for e in events)
