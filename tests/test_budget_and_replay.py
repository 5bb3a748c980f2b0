"""Hard budgets, the response cache and replay, on whole runs (scripted = fixed replies)."""

import json
from pathlib import Path

import pytest

from budgetml.config import ModelEntry, Price, RunConfig
from budgetml.env.task import find_task, load_task
from budgetml.llm.budget import worst_case_usd
from budgetml.replay import replay_run
from budgetml.run import start_run
from budgetml.trace import LlmCall, of_kind, read_events
from tests.llm.openai_server import OpenAICompatServer, Reply
from tests.scripted_settings import EVERY_ACTION
from tests.test_run import reply

PRICE = Price(input=100.0, output=200.0)  # dear, so a few calls reach a small cap


def steps_script(tmp_path: Path) -> Path:
    trained = "accuracy = 0.9\nopen('submission.csv', 'w').write(str(accuracy))\n"
    replies = [
        reply("look", "List Files", {"dir_path": "."}),
        reply("edit", "Write File", {"file_name": "train.py", "content": trained}),
        reply("run", "Execute Script", {"script_name": "train.py"}),
        reply("done", "Final Answer", {"final_answer": "accuracy 0.9"}),
    ]
    path = tmp_path / "script.json"
    path.write_text(json.dumps(replies))
    return path


def config(script: Path, **settings: object) -> RunConfig:
    model = f"scripted:{script}"
    return RunConfig(
        planner=[ModelEntry(model=model, retries=1, max_tokens=100)],
        prices={model: PRICE},
        **EVERY_ACTION,
    ).with_settings(**settings)


def test_a_cap_below_one_calls_worst_case_makes_no_call(mlab_task: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    summary = start_run(
        load_task(mlab_task),
        config(steps_script(tmp_path), budget_usd=0.0001),
        config_label="t",
        run_dir=run_dir,
    )
    assert summary.status == "budget_exhausted"
    assert summary.steps == 0 and summary.cost_usd == 0
    events = [e.kind for e in read_events(run_dir / "trace.jsonl")]
    assert "llm_call" not in events and "score" in events


def test_a_cap_reached_mid_run_stops_without_crossing_it(mlab_task: Path, tmp_path: Path) -> None:
    script = steps_script(tmp_path)
    uncapped = start_run(
        load_task(mlab_task), config(script), config_label="t", run_dir=tmp_path / "full"
    )
    per_call = [e.cost_usd for e in of_kind(read_events(tmp_path / "full/trace.jsonl"), LlmCall)]
    cap = sum(per_call[:2]) + worst_case_usd(0, 100, PRICE) / 2
    capped = start_run(
        load_task(mlab_task),
        config(script, budget_usd=cap),
        config_label="t",
        run_dir=tmp_path / "capped",
    )
    assert uncapped.status == "completed" and uncapped.cost_usd > cap
    assert capped.status == "budget_exhausted"
    assert 1 <= capped.steps < uncapped.steps
    assert capped.cost_usd <= cap
    assert capped.score is not None or capped.score_error is not None


def test_summary_cost_equals_the_sum_over_the_traces_calls(mlab_task: Path, tmp_path: Path) -> None:
    summary = start_run(
        load_task(mlab_task),
        config(steps_script(tmp_path)),
        config_label="t",
        run_dir=tmp_path / "run",
    )
    calls = of_kind(read_events(tmp_path / "run/trace.jsonl"), LlmCall)
    assert summary.cost_usd == pytest.approx(sum(c.cost_usd for c in calls), abs=1e-6)
    assert summary.tokens[calls[0].model]["calls"] == len(calls)


def test_a_cached_rerun_calls_no_model_and_reports_the_same_cost(
    mlab_task: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUDGETML_CACHE_DIR", str(tmp_path / "cache"))
    script = steps_script(tmp_path)
    first = start_run(
        load_task(mlab_task),
        config(script, cache=True),
        config_label="t",
        run_dir=tmp_path / "first",
    )
    script.write_text("[]")  # the model itself could not answer again
    second = start_run(
        load_task(mlab_task),
        config(script, cache=True),
        config_label="t",
        run_dir=tmp_path / "second",
    )
    assert second.status == "completed" and second.score == first.score
    assert second.cost_usd == first.cost_usd and second.spent_usd == 0
    assert first.spent_usd == first.cost_usd


def test_replay_over_a_stopped_server_gives_the_same_actions_and_score(
    mlab_task: Path, tmp_path: Path
) -> None:
    replies = json.loads(steps_script(tmp_path).read_text())
    entry = ModelEntry(model="openai/test-model", retries=1)
    run_config = RunConfig(planner=[entry], prices={"openai/test-model": PRICE}, **EVERY_ACTION)
    with OpenAICompatServer([Reply(r, 500 + i, 50) for i, r in enumerate(replies)]) as server:
        served = run_config.with_model("openai/test-model", server.base_url)
        original = start_run(
            load_task(mlab_task), served, config_label="wire", run_dir=tmp_path / "original"
        )
    result = replay_run(tmp_path / "original", tmp_path / "replay")
    assert original.status == "completed" and original.success
    assert result.same_actions and len(result.replayed_actions) == 4
    assert result.replayed.score == original.score
    assert result.replayed.cost_usd == pytest.approx(original.cost_usd)
    assert result.replayed.spent_usd == 0
    assert result.prompt_mismatches == 0


def test_a_replay_whose_task_folder_is_gone_uses_the_builtin_task_of_that_name(
    tmp_path: Path,
) -> None:
    """A sweep's runs replay from a fresh checkout, where the recorded task folder may not exist."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps([reply("done", "Final Answer", {"final_answer": "none"})]))
    start_run(
        find_task("vectorization"), config(script), config_label="c", run_dir=tmp_path / "run"
    )
    trace = tmp_path / "run" / "trace.jsonl"
    start, *rest = trace.read_text().splitlines()
    moved = {**json.loads(start), "task_dir": str(tmp_path / "checkout-gone" / "vectorization")}
    trace.write_text("\n".join([json.dumps(moved), *rest]) + "\n")
    result = replay_run(tmp_path / "run", tmp_path / "replay")
    assert result.same_actions and result.replayed.task == "vectorization"
    assert result.replayed.status == "completed"
