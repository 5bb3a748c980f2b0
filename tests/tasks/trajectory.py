"""Scripted trajectories for task checks: fixed planner replies (not an LLM) run for real."""

from __future__ import annotations

import json
from pathlib import Path

from budgetml.config import ModelEntry, RunConfig
from budgetml.env.task import Task
from budgetml.run import start_run
from budgetml.summary import RunSummary
from tests.scripted_settings import EVERY_ACTION

SOLUTIONS = Path(__file__).parent / "solutions"


def reply(action: str, action_input: dict[str, str]) -> str:
    return (
        "Reflection: scripted\nResearch Plan and Status: scripted\nFact Check: none\n"
        f"Thought: scripted\nAction: {action}\nAction Input: {json.dumps(action_input)}"
    )


def no_op_replies(task: Task) -> list[str]:
    """Run the unchanged starter, then submit: what doing nothing scores."""
    return [
        reply("Execute Script", {"script_name": task.spec.starter_script}),
        reply("Final Answer", {"final_answer": "no change"}),
    ]


def reference_replies(task: Task) -> list[str]:
    """Write the known better files from `solutions/<task>/`, run the starter, submit."""
    solution = SOLUTIONS / task.name
    writes = [
        reply("Write File", {"file_name": p.name, "content": p.read_text("utf-8")})
        for p in sorted(solution.iterdir())
        if p.is_file()
    ]
    return [
        *writes,
        reply("Execute Script", {"script_name": task.spec.starter_script}),
        reply("Final Answer", {"final_answer": "reference solution"}),
    ]


def run_replies(task: Task, replies: list[str], tmp_path: Path) -> RunSummary:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(replies), encoding="utf-8")
    config = RunConfig(
        planner=[ModelEntry(model=f"scripted:{script}", retries=1)],
        max_steps=len(replies),
        **EVERY_ACTION,
    )
    return start_run(task, config, config_label="scripted", run_dir=tmp_path / "run")
