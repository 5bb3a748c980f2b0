"""No-op runs of an MLAgentBench-style runtime task under CPU load: how many "succeed" (must be 0).

The task has no task.yaml: its train.py times a numpy loop and writes the time to
submission.csv, and its eval.py reads that number (lower is better), as MLAgentBench's runtime
tasks do. Each run only re-runs the unchanged starter and submits, while two other processes
keep CPUs busy, as a 2-worker sweep does. Baseline and final are both measured by BudgetML
at the end of the run, in turn (the best of several starter runs on a scratch copy each), so
none of them may count as a success.

    .venv/bin/python benchmarks/noop_under_load.py [--runs 20] [--load 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

from budgetml.config import ModelEntry, RunConfig
from budgetml.env.task import load_task
from budgetml.run import start_run
from budgetml.summary import is_success

TRAIN = """import time
import numpy as np
a = np.random.default_rng(0).standard_normal((200, 200))
start = time.time()
for _ in range(60):
    a = np.tanh(a @ a.T / 200)
elapsed = time.time() - start
print(f"Time taken for execution: {elapsed} s")
with open("submission.csv", "w") as f:
    f.write(f"{elapsed}\\n")
"""
EVAL = """import os
def get_score(submission_folder="../env"):
    with open(os.path.join(submission_folder, "submission.csv")) as f:
        return float(f.read().split()[-1])
"""
PROBLEM = (
    "Given a script train.py, execute it to see the current execution speed and then try to "
    "improve it with vectorisation. The run time is stored in submission.csv."
)


def _burn(stop: float) -> None:
    while time.time() < stop:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--load", type=int, default=2, help="CPU-burning processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="budgetml-noop-") as tmp:
        root = Path(tmp)
        task_dir = root / "runtime-task"
        (task_dir / "env").mkdir(parents=True)
        (task_dir / "scripts").mkdir()
        (task_dir / "env/train.py").write_text(TRAIN)
        (task_dir / "scripts/eval.py").write_text(EVAL)
        (task_dir / "scripts/research_problem.txt").write_text(PROBLEM)
        task = load_task(task_dir)
        print(f"task: {task.spec.metric}, {task.describe_direction()}")
        replies = [
            "Action: Execute Script\nAction Input: " + json.dumps({"script_name": "train.py"}),
            "Action: Final Answer\nAction Input: " + json.dumps({"final_answer": "no change"}),
        ]
        (root / "replies.json").write_text(json.dumps(replies))
        config = RunConfig(
            planner=[ModelEntry(model=f"scripted:{root / 'replies.json'}", retries=1)],
            max_steps=2,
            # Final Answer at step 2 as scripted (by default it waits for a change that ran).
            skip_known_results=False,
            guide_steps=False,
        )
        stop = time.time() + 24 * 3600
        burners = [multiprocessing.Process(target=_burn, args=(stop,)) for _ in range(args.load)]
        for burner in burners:
            burner.start()
        successes, best_successes, by_ten_percent, changes = 0, 0, 0, []
        try:
            for number in range(args.runs):
                run_dir = root / f"run-{number}"
                summary = start_run(task, config, config_label="noop", run_dir=run_dir)
                successes += summary.success
                best_successes += summary.best_success
                by_ten_percent += is_success(summary.improvement, task.spec.higher_is_better)
                changes.append(summary.improvement)
                start, end = _recorded(run_dir, "baseline"), _recorded(run_dir, "timed_comparison")
                print(
                    f"run {number + 1:2d}: baseline at the start {start['value']:.4f} s, at the "
                    f"end {summary.baseline:.4f} s, final {summary.score:.4f} s, change "
                    f"{summary.improvement:+.1%}, noise {end['noise']:.0%}, success "
                    f"{summary.success}, best step {summary.best_step} success "
                    f"{summary.best_success}",
                    flush=True,
                )
        finally:
            for burner in burners:
                burner.kill()
    worst = min(c for c in changes if c is not None)
    print(f"{successes} of {args.runs} no-op runs succeeded under a {args.load}-process load")
    print(f"{best_successes} of {args.runs} had a best step that succeeded")
    print(f"{by_ten_percent} of {args.runs} would have by the 10% rule alone, noise left aside")
    print(f"largest apparent improvement: {worst:+.1%} (success needs below -10%, and the noise)")


def _recorded(run_dir: Path, kind: str) -> dict[str, Any]:
    """The run's first trace event of that kind, as written."""
    lines = (run_dir / "trace.jsonl").read_text().splitlines()
    return next(e for e in map(json.loads, lines) if e["event"] == kind)


if __name__ == "__main__":
    main()
