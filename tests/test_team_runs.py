"""Whole runs of the agent team (cascade, expert, workers, memory) with scripted models:
fixed replies standing in for LLMs, one script per role."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from budgetml.agents.parser import parse_reply
from budgetml.config import ModelEntry, Price, RunConfig, load_config
from budgetml.env.task import find_task, load_task
from budgetml.llm.base import Completion, Message, ReplyFormat, Usage, cost_usd
from budgetml.run import start_run
from budgetml.trace import Escalation, LlmCall, StepDone, of_kind, read_events
from tests.agents.scripted_team import BAD, answer
from tests.scripted_settings import EVERY_ACTION

DEMO = Path(__file__).parents[1] / "src" / "budgetml" / "demo" / "vectorization-demo.json"


def vectorized_train_py() -> str:
    replies = json.loads(DEMO.read_text())
    write = next(r for r in replies if "Action: Write File" in r)
    return str(parse_reply(write, {"Write File": ("file_name", "content")}).action_input["content"])


def test_the_budget_preset_escalates_asks_the_expert_and_succeeds(tmp_path: Path) -> None:
    cheap, strong = tmp_path / "cheap.json", tmp_path / "strong.json"
    cheap.write_text(
        json.dumps(
            {
                "planner": [
                    answer("List Files", {"dir_path": "."}),
                    BAD,
                    BAD,
                    BAD,  # m = 3 format failures: the step climbs to the strong model
                    answer(
                        "Request Help from a Planning Expert",
                        {"stuck_on": "how to vectorise the loops in forward"},
                    ),
                    answer(
                        "Write File", {"file_name": "train.py", "content": vectorized_train_py()}
                    ),
                    answer("Execute Script", {"script_name": "train.py"}),
                    answer("Final Answer", {"final_answer": "forward is vectorised"}),
                ]
            }
        )
    )
    strong.write_text(
        json.dumps(
            {
                "planner": [
                    answer(
                        "Inspect Script Lines",
                        {"script_name": "train.py", "start_line_number": 1, "end_line_number": 40},
                    )
                ],
                "expert": ["Use sliding_window_view and one tensordot over the window axes."],
            }
        )
    )
    _, preset = load_config("budget")
    cheap_model, strong_model = f"scripted:{cheap}", f"scripted:{strong}"
    config = preset.model_copy(
        update={
            "planner": [
                ModelEntry(model=cheap_model, retries=3),
                ModelEntry(model=strong_model, retries=1),
            ],
            "worker": ModelEntry(model=cheap_model),
            "expert": ModelEntry(model=strong_model),
            "prices": {
                cheap_model: Price(input=1, output=2, free_tier=True),
                strong_model: Price(input=30, output=60),
            },
            **EVERY_ACTION,
        }
    )
    run_dir = tmp_path / "run"
    summary = start_run(find_task("vectorization"), config, config_label="budget", run_dir=run_dir)
    assert summary.status == "completed" and summary.success
    assert summary.escalations == 1 and summary.expert_calls == 1
    assert summary.format_failures == 3
    assert summary.tokens[strong_model]["calls"] == 2
    assert summary.tokens[cheap_model]["calls"] == 8
    assert summary.cost_usd_free_tier == pytest.approx(summary.tokens[strong_model]["cost_usd"])
    events = read_events(run_dir / "trace.jsonl")
    climbs = of_kind(events, Escalation)
    assert climbs[0].reason.startswith("format:") and climbs[0].to_model == strong_model
    steps = [e.action for e in of_kind(events, StepDone)]
    assert steps[:3] == [
        "List Files",
        "Inspect Script Lines",
        "Request Help from a Planning Expert",
    ]


@dataclass
class RecordingModel:
    """A fixed-reply stand-in (not an LLM) that records the temperature of every call."""

    name: str
    replies: dict[str, list[str]]
    price: Price = Price(input=1.0, output=1.0)
    temperatures: list[tuple[str, float]] = field(default_factory=list)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content) for m in messages) // 4 + 1

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        self.temperatures.append((agent, temperature))
        usage = Usage(self.count_tokens(messages), 10)
        text = self.replies[agent].pop(0)
        return Completion(text, self.name, usage, cost_usd(usage, self.price), 0.0)


def run_with_retrieval(mlab_task: Path, tmp_path: Path, retrieval: bool) -> RecordingModel:
    planner = [
        answer("List Files", {"dir_path": "."}),
        answer("Reflection", {"things_to_reflect_on": "what to change"}),
        answer("Final Answer", {"final_answer": "nothing to change"}),
    ]
    worker = ["reflection text"] + (
        ["summary", "recalled", "summary", "recalled"] if retrieval else []
    )
    model = RecordingModel("fixed", {"planner": planner, "worker": worker})
    config = RunConfig(planner=[ModelEntry(model="fixed")], retrieval=retrieval, **EVERY_ACTION)
    start_run(
        load_task(mlab_task),
        config,
        config_label="t",
        run_dir=tmp_path / str(retrieval),
        make_model=lambda entry: model,
    )
    assert model.replies["worker"] == [] and model.replies["planner"] == []
    return model


def test_temperatures_reach_planning_and_worker_calls(mlab_task: Path, tmp_path: Path) -> None:
    model = run_with_retrieval(mlab_task, tmp_path, retrieval=False)
    assert {t for agent, t in model.temperatures if agent == "planner"} == {0.2}
    assert {t for agent, t in model.temperatures if agent == "worker"} == {0.01}


def test_retrieval_off_makes_no_summary_or_retrieval_calls(mlab_task: Path, tmp_path: Path) -> None:
    model = run_with_retrieval(mlab_task, tmp_path, retrieval=False)
    assert [a for a, _ in model.temperatures].count("worker") == 1  # the Reflection action
    assert (tmp_path / "False/research_log.md").read_text() == ""


def test_retrieval_on_summarises_each_step_and_recalls_before_planning(
    mlab_task: Path, tmp_path: Path
) -> None:
    model = run_with_retrieval(mlab_task, tmp_path, retrieval=True)
    # step 1: plan; summarise. step 2: recall, plan, reflect; summarise. step 3: recall, plan.
    assert [a for a, _ in model.temperatures] == [
        "planner",
        "worker",
        "worker",
        "planner",
        "worker",
        "worker",
        "worker",
        "planner",
    ]
    log = (tmp_path / "True/research_log.md").read_text()
    assert "Step 1" in log and "Step 2" in log
    prompts = [
        e
        for e in of_kind(read_events(tmp_path / "True/trace.jsonl"), LlmCall)
        if e.agent == "planner"
    ]
    assert "recalled" in prompts[-1].messages[1]["content"]


def test_an_edit_that_failed_when_run_is_written_afresh_when_asked_again(
    mlab_task: Path, tmp_path: Path
) -> None:
    """Edit, run (fails), undo, the same edit again: the second is sampled at the retry
    temperature and told of the first (traces: budget on titanic, four times in 30 steps)."""
    edit: dict[str, object] = {
        "script_name": "train.py",
        "edit_instruction": "raise the rate",
        "save_name": "train.py",
    }
    planner = [
        answer("Edit Script (AI)", edit),
        answer("Execute Script", {"script_name": "train.py"}),
        answer("Undo Edit Script", {"script_name": "train.py"}),
        answer("Edit Script (AI)", edit),
        answer("Execute Script", {"script_name": "train.py"}),
        answer("Final Answer", {"final_answer": "rate raised"}),
    ]
    good = (mlab_task / "env" / "train.py").read_text().replace("= 0.1", "= 0.3")
    worker = ["```python\nraise SystemExit(1)\n```", f"```python\n{good}```"]
    model = RecordingModel("fixed", {"planner": planner, "worker": worker})
    config = RunConfig(planner=[ModelEntry(model="fixed")], guide_steps=False)
    summary = start_run(
        load_task(mlab_task),
        config,
        config_label="t",
        run_dir=tmp_path / "run",
        make_model=lambda entry: model,
    )
    assert model.replies == {"planner": [], "worker": []}
    assert [t for agent, t in model.temperatures if agent == "worker"] == [0.01, 0.7]
    calls = of_kind(read_events(tmp_path / "run/trace.jsonl"), LlmCall)
    prompts = [c.messages[1]["content"] for c in calls if c.agent == "worker"]
    assert "carried out on this same file at step 1" not in prompts[0]
    assert "carried out on this same file at step 1" in prompts[1]
    assert summary.steps == 6 and summary.score == pytest.approx(0.8)
