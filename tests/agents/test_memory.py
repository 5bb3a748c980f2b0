"""The research log and its summaries and retrieval, with a scripted model (fixed replies, not
an LLM) standing in for the worker model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from budgetml.agents.llm_worker import LLMWorker
from budgetml.agents.memory import (
    MAX_LOG_CHARS,
    NOTE_MAX_TOKENS,
    REFLECTION_PROFILE,
    ResearchLog,
    retrieve,
    summarise_step,
)
from budgetml.config import Price
from budgetml.llm.base import Completion, Message, ReplyFormat
from budgetml.llm.scripted import ScriptedModel


class Recorder:
    """Collects the worker's calls, like the run's trace does."""

    def __init__(self) -> None:
        self.calls: list[list[Message]] = []

    def llm_call(self, agent: str, messages: Sequence[Message], completion: Completion) -> None:
        self.calls.append(list(messages))

    def format_failure(self, model: str, attempt: int, error: str) -> None: ...

    def escalation(self, from_model: str, to_model: str, reason: str) -> None: ...

    def context_trimmed(self, model: str, shown_steps: int) -> None: ...


def scripted(tmp_path: Path, replies: list[str]) -> tuple[LLMWorker, Recorder]:
    """A worker on a scripted model; an empty list of replies fails if the worker is asked."""
    script = tmp_path / "worker-script.json"
    script.write_text(json.dumps({"worker": replies}))
    model = ScriptedModel(f"scripted:{script}", script, Price(input=0, output=0))
    recorder = Recorder()
    return LLMWorker(model, 2000, 0.01, recorder), recorder


def test_a_new_log_is_an_empty_file(tmp_path: Path) -> None:
    log = ResearchLog(tmp_path / "run" / "research_log.md")
    assert log.path.is_file() and log.read() == ""


def test_entries_are_separated_by_a_blank_line(tmp_path: Path) -> None:
    log = ResearchLog(tmp_path / "research_log.md")
    log.append("Step 1:\nlisted files\n\n")
    log.append("  baseline is 2.0 s ")
    assert log.read() == "Step 1:\nlisted files\n\nbaseline is 2.0 s\n"


def test_an_existing_log_is_kept(tmp_path: Path) -> None:
    ResearchLog(tmp_path / "research_log.md").append("kept")
    assert ResearchLog(tmp_path / "research_log.md").read() == "kept\n"


def test_a_huge_log_is_cut_for_prompts_keeping_its_start_and_latest_entries(
    tmp_path: Path,
) -> None:
    log = ResearchLog(tmp_path / "research_log.md")
    log.append("FIRST " + "x" * MAX_LOG_CHARS)
    log.append("LATEST")
    shown = log.for_prompt()
    assert len(shown) < MAX_LOG_CHARS + 200
    assert shown.startswith("FIRST") and shown.endswith("LATEST")


def test_summarise_step_appends_one_summary_per_step(tmp_path: Path) -> None:
    worker, recorder = scripted(tmp_path, ["[Action]: ran train.py\n[Observation]: 2.0 s\n"])
    log = ResearchLog(tmp_path / "research_log.md")
    observation = "START " + "y" * 50_000 + " END"
    summarise_step(worker, log, 3, "Execute Script", {"script_name": "train.py"}, observation)
    assert log.read() == "Step 3:\n[Action]: ran train.py\n[Observation]: 2.0 s\n"
    (system, user) = recorder.calls[0]
    assert system == Message("system", REFLECTION_PROFILE)
    assert "Execute Script" in user.content and '{"script_name": "train.py"}' in user.content
    assert "START" in user.content and "END" in user.content and len(user.content) < 10_000


def test_retrieve_from_an_empty_log_makes_no_call(tmp_path: Path) -> None:
    worker, recorder = scripted(tmp_path, [])
    assert retrieve(worker, ResearchLog(tmp_path / "research_log.md"), "plan") == ""
    assert not recorder.calls


def test_retrieve_asks_with_the_log_and_the_plan(tmp_path: Path) -> None:
    worker, recorder = scripted(tmp_path, [" baseline 2.0 s \n"])
    log = ResearchLog(tmp_path / "research_log.md")
    log.append("Step 1:\nbaseline 2.0 s")
    assert retrieve(worker, log, "vectorise the loop") == "baseline 2.0 s"
    prompt = recorder.calls[0][1].content
    assert "Step 1:\nbaseline 2.0 s" in prompt and "vectorise the loop" in prompt


class CapRecordingModel(ScriptedModel):
    """A scripted model (fixed replies, not an LLM) that also notes each call's max_tokens."""

    caps: list[int]

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        self.caps.append(max_tokens)
        return super().complete(
            messages, agent=agent, temperature=temperature, max_tokens=max_tokens
        )


def test_notes_are_asked_for_with_a_short_cap_whatever_the_workers_cap(tmp_path: Path) -> None:
    script = tmp_path / "worker-script.json"
    script.write_text(json.dumps({"worker": ["ran train.py: 2.0 s", "baseline 2.0 s"]}))
    model = CapRecordingModel(f"scripted:{script}", script, Price(input=0, output=0))
    model.caps = []
    worker = LLMWorker(model, 2000, 0.01, Recorder())
    log = ResearchLog(tmp_path / "research_log.md")
    summarise_step(worker, log, 1, "Execute Script", {"script_name": "train.py"}, "2.0 s")
    retrieve(worker, log, "vectorise")
    assert model.caps == [NOTE_MAX_TOKENS, NOTE_MAX_TOKENS] and NOTE_MAX_TOKENS < 2000
