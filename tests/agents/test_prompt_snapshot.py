"""Pins the rendered planner prompt, so every prompt change is a deliberate one.

After an intended change: BUDGETML_UPDATE_SNAPSHOTS=1 pytest tests/agents/test_prompt_snapshot.py
and review the diff of the snapshot file.
"""

import os
from pathlib import Path

from budgetml.agents.history import Step
from budgetml.agents.parser import PlannerReply
from budgetml.agents.team import assemble_team
from budgetml.config import load_config
from tests.agents.scripted_team import Recorder, scripted

SNAPSHOT = Path(__file__).parent / "snapshots" / "planner_prompt.txt"


def test_the_budget_teams_planner_prompt_matches_the_snapshot(tmp_path: Path) -> None:
    _, config = load_config("budget")
    model = scripted(tmp_path, "any", [])
    team = assemble_team(
        config.with_settings(retrieval=True),
        "Make train.py faster.",
        lambda e: model,
        Recorder(),
        tmp_path / "workspace",
        tmp_path / "research_log.md",
    )
    history = [
        Step(
            1,
            PlannerReply(
                "List Files",
                {"dir_path": "."},
                {"Thought": "look"},
                'Thought: look\nAction: List Files\nAction Input: {"dir_path": "."}',
            ),
            "train.py",
        ),
        Step(
            2,
            PlannerReply(
                "Execute Script",
                {"script_name": "train.py"},
                {"Thought": "run"},
                'Thought: run\nAction: Execute Script\nAction Input: {"script_name": "train.py"}',
            ),
            "The script has been executed. Here is the output:\nTime taken: 2.1 s",
        ),
    ]
    rendered = team.planner.prompt("Make train.py faster.", history, 28, notes="Step 1: ...")
    if os.environ.get("BUDGETML_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(rendered, encoding="utf-8")
    assert rendered == SNAPSHOT.read_text(encoding="utf-8")
