"""The edit worker alone, on the starters of built-in tasks: how often one Edit Script (AI) from
an instruction a small planner sent turns into a script that runs and beats the baseline.

Each cell is a 3-step run with a scripted planner (labelled: the planner is not under test):
Edit Script (AI) of the starter with the cell's instruction, Execute Script, Final Answer. The
worker is a real model (the embedded 1.5B by default), so a cell measures the editor, with
everything it is shown in a real run (problem, description files), and the real scoring.

    .venv/bin/python benchmarks/editor_cells.py [--tasks titanic ames-house-price ...]
        [--worker local/qwen2.5-coder-1.5b-instruct] [--seeds 1] [--set KEY=YAML ...]

`--set` changes a top-level config setting for every cell (e.g. `--set edit_tries=3`), so
a change to the editor is measured on the same cells as the editor before it.

`--after-missing-column` (titanic) starts each cell from the failure the sweep's 1.5B looped on:
the planner (scripted) writes the starter with a `fare` column the data lacks into selectColumns
and runs it, so the cell's edit sees that KeyError.
`--again-after-failure` makes each cell edit, run, undo and send the same edit again, with
`skip_known_results` on: an edit whose run failed, asked again of the same script, is
sampled afresh and told so (agents/workers.py); `--set skip_known_results=false` is the
same cell with the second edit made as the first.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import yaml

from budgetml.agents.history import EXECUTE, script_ran_cleanly
from budgetml.config import ModelEntry, Price, RunConfig, SandboxConfig
from budgetml.env.task import find_task
from budgetml.run import start_run

TUNING_TASKS = ["titanic", "ames-house-price", "fine-food-reviews", "vectorization"]
INSTRUCTIONS = [
    # What the 0.5B planner sent in 6 of 6 edits at 4a4b9dc (a sentence of its prompt).
    "Edit the script to give a precise instruction (which lines, which columns or features, "
    "which model and settings), then run it and read its output.",
    # Sent by the planners in the titanic pilot traces.
    "Try different models and feature selections to get a better performance.",
    "Change the model to a different one and try different hyperparameters.",
    # Sent by the planners in the embedded-team sweep at 7ff3f25 (titanic, ames-house-price).
    "Add more features and models to the script using the sklearn library",
    "Add a new feature to the dataset, such as the number of bedrooms, and then train the model "
    "again. Use the same hyperparameters as before.",
    "Change the model to a different one and the settings to improve the accuracy",
    # Sent by the 1.5B planner at 5985653 and 798cf19 after `KeyError: 'fare'` (titanic).
    "Add the 'fare' column to the 'train_data' DataFrame",
    "Add 'fare' to the selectColumns list",
]
EDIT = "Edit Script (AI)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=TUNING_TASKS)
    parser.add_argument("--worker", default="local/qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--instructions", nargs="+", type=int, help="indices into INSTRUCTIONS")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=YAML")
    parser.add_argument("--keep", type=Path, help="keep the run folders here")
    parser.add_argument("--after-missing-column", action="store_true")
    parser.add_argument("--again-after-failure", action="store_true")
    args = parser.parse_args()
    settings = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    chosen = [INSTRUCTIONS[i] for i in args.instructions] if args.instructions else INSTRUCTIONS
    with tempfile.TemporaryDirectory(prefix="budgetml-editor-") as tmp:
        root = args.keep or Path(tmp)
        ran = succeeded = cells = 0
        for task_name in args.tasks:
            task = find_task(task_name)
            for number, instruction in enumerate(chosen):
                for seed in range(args.seeds):
                    cell = root / f"{task_name}-i{number}-s{seed}"
                    cell.mkdir(parents=True)
                    script = task.spec.starter_script
                    start = None
                    if args.after_missing_column:
                        start = _with_missing_column(task.env_dir / script)
                    replies = _plan(script, instruction, start, args.again_after_failure)
                    config = _config(
                        cell, replies, args.worker, args.again_after_failure
                    ).with_settings(**settings)
                    began = time.monotonic()
                    summary = start_run(
                        task, config, config_label="editor", run_dir=cell / "run", seed=seed
                    )
                    clean = _ran_cleanly(cell / "run")
                    cells += 1
                    ran += clean
                    succeeded += summary.success
                    change = "n/a" if summary.improvement is None else f"{summary.improvement:+.1%}"
                    if start is not None:
                        final = (cell / "run" / "workspace" / script).read_text()
                        print(f"  edited script still reads 'fare': {'fare' in final}")
                    if args.again_after_failure:
                        print(f"  the first edit's run failed: {_first_run_failed(cell / 'run')}")
                    print(
                        f"{task_name:18s} i{number} seed {seed}: ran {clean!s:5s} score "
                        f"{summary.score} (baseline {summary.baseline}, {change}) success "
                        f"{summary.success} [{time.monotonic() - began:.0f} s]",
                        flush=True,
                    )
        print(f"{ran} of {cells} edited scripts ran cleanly; {succeeded} of {cells} succeeded")


def _with_missing_column(starter: Path) -> str:
    """The starter reading a `fare` column, which titanic's data does not have."""
    text = starter.read_text()
    if 'selectColumns = ["pclass"]' not in text:
        raise SystemExit(f"--after-missing-column needs titanic's starter; {starter} is not it")
    return text.replace('selectColumns = ["pclass"]', 'selectColumns = ["pclass", "fare"]')


def _plan(script: str, instruction: str, start: str | None, again: bool) -> list[str]:
    """The planner's replies, scripted: edit the script, run it, answer; `start` (a script
    text) is written and run first, so the edit follows that run; `again`: edit, run, undo,
    the same edit, run (no answer: with known results held back it may not be offered)."""
    edit = {"script_name": script, "edit_instruction": instruction, "save_name": script}
    replies = {
        "write": ("Write File", {"file_name": script, "content": start}),
        "edit": ("Edit Script (AI)", edit),
        "run": ("Execute Script", {"script_name": script}),
        "undo": ("Undo Edit Script", {"script_name": script}),
        "answer": ("Final Answer", {"final_answer": "edited"}),
    }
    plan = ["edit", "run", "undo", "edit", "run"] if again else ["edit", "run", "answer"]
    if start is not None:
        plan = ["write", "run", *plan]
    return [f"Action: {replies[s][0]}\nAction Input: {json.dumps(replies[s][1])}" for s in plan]


def _config(cell: Path, replies: list[str], worker: str, skip_known_results: bool) -> RunConfig:
    (cell / "replies.json").write_text(json.dumps(replies))
    return RunConfig(
        planner=[ModelEntry(model=f"scripted:{cell / 'replies.json'}", retries=1)],
        worker=ModelEntry(model=worker),
        max_steps=len(replies),
        action_set="extended",
        skip_known_results=skip_known_results,
        guide_steps=False,
        sandbox=SandboxConfig(output_limit_chars=4000),
        prices={worker: Price(input=0.0, output=0.0)},
    )


def _steps(run_dir: Path) -> list[dict[str, object]]:
    return [
        event
        for event in map(json.loads, (run_dir / "trace.jsonl").read_text().splitlines())
        if event["event"] == "step"
    ]


def _first_run_failed(run_dir: Path) -> bool:
    run = next((step for step in _steps(run_dir) if step["action"] == EXECUTE), None)
    return run is not None and not script_ran_cleanly(EXECUTE, str(run["observation"]))


def _ran_cleanly(run_dir: Path) -> bool:
    """Whether the (last) edit was kept and the Execute Script step after it exited cleanly (a
    clean run of the starter after an edit refused or not kept is not an edited script)."""
    steps = _steps(run_dir)
    edit = max((n for n, step in enumerate(steps) if step["action"] == EDIT), default=None)
    if edit is None or str(steps[edit]["observation"]).startswith("Error"):
        return False
    run = next((step for step in steps[edit:] if step["action"] == EXECUTE), None)
    return run is not None and script_ran_cleanly(EXECUTE, str(run["observation"]))


if __name__ == "__main__":
    main()
