"""The parser on a corpus of planner replies in the drift of real Gemini-Pro and CodeLlama-34B
runs on MLAgentBench (tests/fixtures/replies/build_corpus.py says how it was made): it must read
at least 99% of them as MLAgentBench's parser did, and never raise anything but FormatError."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from budgetml.agents.parser import FormatError, parse_reply

CORPUS = Path(__file__).parents[1] / "fixtures" / "replies" / "mlagentbench.jsonl"
MLAGENTBENCH_ACTIONS: dict[str, list[str]] = {  # the input keys of MLAgentBench's actions
    "List Files": ["dir_path"],
    "Read File": ["file_name"],
    "Write File": ["file_name", "content"],
    "Append File": ["file_name", "content"],
    "Copy File": ["source", "destination"],
    "Undo Edit Script": ["script_name"],
    "Execute Script": ["script_name"],
    "Final Answer": ["final_answer"],
    "Understand File": ["file_name", "things_to_look_for"],
    "Inspect Script Lines": ["script_name", "start_line_number", "end_line_number"],
    "Edit Script (AI)": ["script_name", "edit_instruction", "save_name"],
    "Edit Script Segment (AI)": [
        "script_name",
        "start_line_number",
        "end_line_number",
        "edit_instruction",
        "save_name",
    ],
    "Reflection": ["things_to_reflect_on"],
    "Retrieval from Research Log": ["current_plan"],
}


def _read(row: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    try:
        reply = parse_reply(row["reply"], MLAGENTBENCH_ACTIONS)
    except FormatError:
        return None, None
    return reply.action, reply.action_input


def test_reads_the_corpus_as_mlagentbench_did() -> None:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    missed: Counter[str] = Counter()
    crashes = []
    for row in rows:
        try:
            got = _read(row)
        except Exception as error:  # a crash: counted and shown, not raised
            crashes.append(f"{row['id']}: {error!r}")
            continue
        if got != (row["action"], row["action_input"]):
            missed[", ".join(row["drift"]) or "clean"] += 1
    read = len(rows) - len(crashes) - sum(missed.values())
    print(f"\nread as MLAgentBench did: {read} of {len(rows)} ({read / len(rows):.1%}); {missed}")
    assert not crashes
    assert len(rows) >= 600
    assert read / len(rows) >= 0.99, missed


def test_the_corpus_holds_each_drift_real_replies_show() -> None:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    drifts = Counter(d for row in rows for d in row["drift"])
    for drift in (
        "name on the next line",
        "label twice",
        "Windows path",
        "cut off",
        "triple-quoted instruction",
        "unescaped quotes",
        "json fence",
        "no action",
    ):
        assert drifts[drift] >= 3, drift
