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
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=TUNING_TASKS)
    parser.add_argument("--worker", default="local/qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--instructions", nargs="+", type=int, help="indices into INSTRUCTIONS")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=YAML")
    parser.add_argument("--keep", type=Path, help="keep the run folders here")
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
                    config = _config(
                        cell, task.spec.starter_script, instruction, args.worker
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
                    print(
                        f"{task_name:18s} i{number} seed {seed}: ran {clean!s:5s} score "
                        f"{summary.score} (baseline {summary.baseline}, {change}) success "
                        f"{summary.success} [{time.monotonic() - began:.0f} s]",
                        flush=True,
                    )
        print(f"{ran} of {cells} edited scripts ran cleanly; {succeeded} of {cells} succeeded")


def _config(cell: Path, script: str, instruction: str, worker: str) -> RunConfig:
    """Edit the starter, run it, answer: the planner's three replies, scripted."""
    edit = {"script_name": script, "edit_instruction": instruction, "save_name": script}
    replies = [
        "Action: Edit Script (AI)\nAction Input: " + json.dumps(edit),
        "Action: Execute Script\nAction Input: " + json.dumps({"script_name": script}),
        "Action: Final Answer\nAction Input: " + json.dumps({"final_answer": "edited"}),
    ]
    (cell / "replies.json").write_text(json.dumps(replies))
    return RunConfig(
        planner=[ModelEntry(model=f"scripted:{cell / 'replies.json'}", retries=1)],
        worker=ModelEntry(model=worker),
        max_steps=3,
        skip_known_results=False,
        guide_steps=False,
        sandbox=SandboxConfig(output_limit_chars=4000),
        prices={worker: Price(input=0.0, output=0.0)},
    )


def _ran_cleanly(run_dir: Path) -> bool:
    """Whether the edit was kept and the Execute Script step after it exited cleanly (a clean
    run of the starter after an edit that was refused or not kept is not an edited script)."""
    steps = [
        event
        for event in map(json.loads, (run_dir / "trace.jsonl").read_text().splitlines())
        if event["event"] == "step"
    ]
    if not steps or str(steps[0]["observation"]).startswith("Error"):
        return False
    run = next((step for step in steps if step["action"] == EXECUTE), None)
    return run is not None and script_ran_cleanly(EXECUTE, str(run["observation"]))


if __name__ == "__main__":
    main()
