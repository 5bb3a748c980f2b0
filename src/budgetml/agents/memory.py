"""The long-term memory: a research log of step summaries, and retrieval from it.

Short-term memory (the last few steps in full) lives in the planner's prompt; this log is what
survives beyond that window. In the paper's retrieval (R) runs every step is summarised into
the log and the parts relevant to the current plan are recalled before planning.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from budgetml.agents.llm_worker import LLMWorker
from budgetml.agents.prompting import TEMPLATES
from budgetml.textutil import truncate_middle

REFLECTION_PROFILE = (
    "You are an expert in reflecting on previous actions when solving a machine learning task."
)
"""The paper's Reflection profile; summaries and retrieval reflect on past steps too."""

MAX_LOG_CHARS = 20_000
"""Longest log put in a prompt; a longer one keeps its start and its most recent entries."""
_MAX_OBSERVATION_CHARS = 6_000
_MAX_INPUT_CHARS = 2_000


class ResearchLog:
    """A markdown file in the run directory; entries are separated by a blank line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)  # created empty; an existing log is kept, never truncated

    def append(self, text: str) -> None:
        """Add one entry and fsync, so the log survives a crash like the trace does."""
        separator = "\n" if self.path.stat().st_size else ""
        with self.path.open("a", encoding="utf-8", errors="replace") as handle:
            handle.write(f"{separator}{text.strip()}\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> str:
        return self.path.read_text(encoding="utf-8", errors="replace")

    def for_prompt(self) -> str:
        """The log as a prompt shows it: at most MAX_LOG_CHARS characters."""
        return truncate_middle(self.read().strip(), MAX_LOG_CHARS)


NOTE_MAX_TOKENS = 400
"""Summaries and recalled notes are a few lines; a small model left at the worker's cap once
ran on for 2,000 tokens (147 s on a CPU) writing one (seen in the Table-2 traces)."""


def summarise_step(
    worker: LLMWorker,
    log: ResearchLog,
    step_number: int,
    action: str,
    action_input: Mapping[str, Any],
    observation: str,
) -> None:
    """One worker call turns a finished step into a few lines of facts, appended as `Step N`."""
    prompt = TEMPLATES.get_template("memory_summarise.j2").render(
        action=action,
        action_input=truncate_middle(
            json.dumps(dict(action_input), ensure_ascii=False, default=str), _MAX_INPUT_CHARS
        ),
        observation=truncate_middle(observation, _MAX_OBSERVATION_CHARS),
    )
    summary = worker.ask(REFLECTION_PROFILE, prompt, NOTE_MAX_TOKENS).strip()
    log.append(f"Step {step_number}:\n{summary}")


def retrieve(worker: LLMWorker, log: ResearchLog, current_plan: str) -> str:
    """The parts of the log relevant to `current_plan`; an empty log costs no call."""
    research_log = log.for_prompt()
    if not research_log:
        return ""
    prompt = TEMPLATES.get_template("memory_retrieve.j2").render(
        research_log=research_log, current_plan=current_plan.strip()
    )
    return worker.ask(REFLECTION_PROFILE, prompt, NOTE_MAX_TOKENS).strip()
