"""Sweep throughput of the bench harness, and the harness's own cost per agent step.

Sweeps the two seconds-long fixture tasks of tests/bench with one scripted config (fixed
replies, not an LLM: a model call costs nothing, so what is measured is the harness) on 1 and
2 local workers, and prints runs per minute. From the runs' traces it prints the time per step
(plan → act → observe → record, with an instant model), per kind of action, and the fixed
costs of a run (set-up before the first step, scoring after the last). The sweep overhead per
run is what the sweep adds around `start_run`: worker processes, SQLite, moving results.

    python benchmarks/bench_throughput.py [--runs 8] [--steps 10]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.bench fixtures

from budgetml.bench.executors import LocalExecutor  # noqa: E402
from budgetml.bench.store import ResultStore  # noqa: E402
from budgetml.bench.sweep import RESULTS_FILE, plan_sweep, run_sweep  # noqa: E402
from tests.bench.conftest import make_inputs, write_config  # noqa: E402


def reply(action: str, action_input: dict[str, object]) -> str:
    return (
        "Reflection: r\nResearch Plan and Status: p\nFact Check: f\nThought: t\n"
        f"Action: {action}\nAction Input: {json.dumps(action_input)}"
    )


def long_config(folder: Path, steps: int) -> Path:
    """A scripted config of `steps` cheap actions, no two alike in a row, then Final Answer."""
    cycle = [
        reply("List Files", {"dir_path": "."}),
        reply("Read File", {"file_name": "submission.csv"}),
        reply("Write File", {"file_name": "submission.csv", "content": "0.9\n"}),
    ]
    replies = [cycle[i % len(cycle)] for i in range(steps - 1)]
    replies.append(reply("Final Answer", {"final_answer": "done"}))
    script = folder / "long.json"
    script.write_text(json.dumps(replies), encoding="utf-8")
    return write_config(
        folder, "long", script, "{input: 1.0, output: 2.0}", f"max_steps: {steps}\n"
    )


def sweep(tasks: list[str], config: str, runs: int, workers: int, out: Path) -> float:
    specs = plan_sweep(tasks, [config], runs)
    started = time.perf_counter()
    outcome = run_sweep(specs, out, LocalExecutor(workers))
    elapsed = time.perf_counter() - started
    assert outcome.finished == len(specs), outcome
    return elapsed


def read_trace(path: Path) -> list[dict[str, Any]]:
    """The trace's lines as JSON objects (a torn last line skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def step_times(out: Path) -> tuple[dict[str, list[float]], list[float], list[float], list[float]]:
    """Seconds per step by action, set-up and scoring per run, and start_run's wall time."""
    per_action: dict[str, list[float]] = defaultdict(list)
    setups, scorings, walls = [], [], []
    with contextlib.closing(ResultStore(out / RESULTS_FILE)) as store:
        for record in store.records():
            events = read_trace(out / record.run_dir / "trace.jsonl")
            start = next(e["time"] for e in events if e["event"] == "run_start")
            steps = [e for e in events if e["event"] == "step"]
            first_call = next(e["time"] for e in events if e["event"] == "llm_call")
            setups.append(first_call - start)
            previous = first_call
            for step in steps:
                per_action[step["action"]].append(step["time"] - previous)
                previous = step["time"]
            scorings.append(next(e["time"] for e in events if e["event"] == "score") - previous)
            assert record.summary is not None
            walls.append(record.summary.wall_seconds)
    return per_action, setups, scorings, walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8, help="seeds per task")
    parser.add_argument("--steps", type=int, default=10, help="agent steps per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as scratch:
        root = Path(scratch)
        os.environ["BUDGETML_DATA_DIR"] = str(root / "data")
        inputs = make_inputs(root / "inputs")
        config = str(long_config(root / "inputs" / "configs", args.steps))
        total = 2 * args.runs
        print(f"{total} scripted runs of {args.steps} steps (2 tasks × {args.runs} seeds)")
        for workers in (1, 2):
            out = root / f"sweep-{workers}"
            elapsed = sweep(inputs.tasks, config, args.runs, workers, out)
            per_action, setups, scorings, walls = step_times(out)
            overhead = (elapsed * workers - sum(walls)) / total
            print(
                f"{workers} worker(s): {total / elapsed * 60:6.1f} runs/min "
                f"({elapsed:.1f} s; start_run {statistics.mean(walls):.2f} s/run; "
                f"sweep overhead {overhead * 1000:.0f} ms/run)"
            )
        all_steps = [t for times in per_action.values() for t in times]
        print(
            f"per step (2 workers, instant model): mean {statistics.mean(all_steps) * 1000:.1f} "
            f"ms, median {statistics.median(all_steps) * 1000:.1f} ms over {len(all_steps)} steps"
        )
        for action, times in sorted(per_action.items()):
            print(f"  {action:<14} {statistics.mean(times) * 1000:7.1f} ms  (n={len(times)})")
        print(
            f"per run: set-up {statistics.mean(setups) * 1000:.0f} ms, "
            f"scoring {statistics.mean(scorings) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
