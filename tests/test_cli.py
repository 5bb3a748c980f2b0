"""The `budgetml` command as a user runs it: a real subprocess, real files, real HTTP."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from budgetml.env.task import builtin_task_names
from tests.llm.openai_server import OpenAICompatServer, Reply
from tests.scripted_settings import EVERY_ACTION_YAML

DEMO = Path(__file__).parents[1] / "src" / "budgetml" / "demo" / "vectorization-demo.json"
SECRET_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


def budgetml(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in SECRET_VARS}
    return subprocess.run(
        [sys.executable, "-m", "budgetml", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=300,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, result.stderr
    for needle in needles:
        assert needle in error_lines[0]


def test_tasks_lists_the_builtin_tasks(tmp_path: Path) -> None:
    result = budgetml("tasks", cwd=tmp_path)
    assert result.returncode == 0
    assert "vectorization" in result.stdout and "per run" in result.stdout
    for name in builtin_task_names():
        assert name in result.stdout


def test_a_missing_task_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(
        budgetml("run", "no-such-task", cwd=tmp_path), "no-such-task", "vectorization"
    )


def test_a_folder_without_a_research_problem_is_one_line(mlab_task: Path, tmp_path: Path) -> None:
    (mlab_task / "scripts/research_problem.txt").unlink()
    result = budgetml("run", str(mlab_task), cwd=tmp_path)
    assert_one_line_error(result, "scripts/research_problem.txt is missing")


def test_a_malformed_config_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("planner: [{model: a}]\nmax_steps: lots\n")
    result = budgetml("run", "vectorization", "--config", "bad.yaml", cwd=tmp_path)
    assert_one_line_error(result, "bad.yaml", "max_steps")


def test_a_missing_api_key_names_the_variable(tmp_path: Path) -> None:
    result = budgetml("run", "vectorization", "--model", "openai/gpt-4o-mini", cwd=tmp_path)
    assert_one_line_error(result, "OPENAI_API_KEY")
    assert not (tmp_path / "runs").exists()


def test_an_unknown_action_ends_the_run_with_one_line(mlab_task: Path, tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps(["Thought: go\nAction: Fly Away\nAction Input: {}"]))
    (tmp_path / "c.yaml").write_text(
        f"planner: [{{model: 'scripted:{script}', retries: 1}}]\n{EVERY_ACTION_YAML}"
    )
    result = budgetml("run", str(mlab_task), "--config", "c.yaml", "--out", "r", cwd=tmp_path)
    assert_one_line_error(result, "Fly Away")
    assert json.loads((tmp_path / "r/summary.json").read_text())["status"] == "error"


def test_the_demo_runs_and_eval_rescores_it(tmp_path: Path) -> None:
    result = budgetml(
        "run",
        "vectorization",
        "--config",
        "demo",
        "--out",
        "demo-run",
        "--seed",
        "3",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "step 6/30" in result.stdout and "Final Answer" in result.stdout
    summary = json.loads((tmp_path / "demo-run/summary.json").read_text())
    assert summary["success"] is True and summary["config"] == "demo"
    rescored = budgetml("eval", "demo-run", cwd=tmp_path)
    assert rescored.returncode == 0, rescored.stderr
    assert "success" in rescored.stdout and "True" in rescored.stdout
    replayed = budgetml("replay", "demo-run", cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    assert "same actions: yes" in replayed.stdout
    assert json.loads((tmp_path / "demo-run-replay/summary.json").read_text())["spent_usd"] == 0


def test_eval_of_a_folder_that_is_not_a_run_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(budgetml("eval", str(tmp_path), cwd=tmp_path), "not a run directory")


def test_a_run_over_the_openai_wire_protocol_reports_the_servers_usage(tmp_path: Path) -> None:
    """litellm → HTTP → a real OpenAI-compatible server on loopback, through the CLI."""
    replies = json.loads(DEMO.read_text())
    served = [
        Reply(text, prompt_tokens=1000 + 7 * i, completion_tokens=200 + i)
        for i, text in enumerate(replies)
    ]
    (tmp_path / "c.yaml").write_text(
        "planner: [{model: openai/test-model}]\n"
        "prices: {openai/test-model: {input: 0.5, output: 1.5}}\n" + EVERY_ACTION_YAML
    )
    with OpenAICompatServer(served) as server:
        result = budgetml(
            "run",
            "vectorization",
            "--config",
            "c.yaml",
            "--model",
            "openai/test-model",
            "--api-base",
            server.base_url,
            "--out",
            "wire",
            cwd=tmp_path,
        )
        requests = list(server.requests)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "wire/summary.json").read_text())
    tokens = summary["tokens"]["openai/test-model"]
    assert tokens["calls"] == len(replies) == len(requests)
    assert tokens["input"] == sum(r.prompt_tokens for r in served)
    assert tokens["output"] == sum(r.completion_tokens for r in served)
    expected = (tokens["input"] * 0.5 + tokens["output"] * 1.5) / 1e6
    assert summary["cost_usd"] == pytest.approx(expected, abs=1e-8)
    assert summary["success"] is True
    assert all(r["temperature"] == 0.2 for r in requests)
    assert requests[0]["messages"][0]["content"].startswith("You are a planner")


def test_the_default_config_without_pulled_models_says_how_to_pull(tmp_path: Path) -> None:
    empty = {"BUDGETML_MODELS_DIR": str(tmp_path / "no-models")}
    result = budgetml("run", "vectorization", cwd=tmp_path, env=empty)
    assert_one_line_error(result, "budgetml models pull")


def test_config_show_prints_a_preset_with_every_default(tmp_path: Path) -> None:
    result = budgetml("config", "show", "budget", cwd=tmp_path)
    assert result.returncode == 0
    for setting in (
        "lifelines: 5",
        "repeat_limit: 3",
        "retrieval: false",
        "max_steps: 30",
        "worker: 0.01",
        "qwen2.5-coder-1.5b-instruct",
    ):
        assert setting in result.stdout
    assert budgetml("config", "list", cwd=tmp_path).stdout.split() == sorted(
        p.stem for p in (Path(__file__).parents[1] / "src/budgetml/presets").glob("*.yaml")
    )


@pytest.mark.parametrize(
    ("args", "option", "allowed"),
    [
        (
            ["run", "vectorization", "--max-steps", "-1"],
            "--max-steps",
            "greater than or equal to 1",
        ),
        (["run", "vectorization", "--max-steps", "0"], "--max-steps", "greater than or equal to 1"),
        (
            ["run", "vectorization", "--budget-usd", "-1"],
            "--budget-usd",
            "greater than or equal to 0",
        ),
        (["run", "vectorization", "--seed", "abc"], "--seed", "valid integer"),
        (["bench", "--runs", "0"], "--runs", "greater than or equal to 1"),
        (["bench", "--workers", "-2"], "--workers", "greater than or equal to 1"),
        (["bench", "--budget-usd", "x"], "--budget-usd", "valid number"),
        (["bench", "--executor", "slurm"], "--executor", "local"),
        (["models", "list", "--bogus"], "--bogus", "No such option"),
        (["replay"], "run_dir", "Missing argument"),
    ],
)
def test_an_option_out_of_range_is_one_line_and_exit_code_1(
    tmp_path: Path, args: list[str], option: str, allowed: str
) -> None:
    """The README promises one line and exit code 1 for a user's mistake, for every command:
    not click's usage box with exit code 2."""
    result = budgetml(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert_one_line_error(result, option, allowed, "--help")
    assert "Usage:" not in result.stderr and "╭" not in result.stderr


def test_help_still_exits_0_and_no_command_still_shows_the_help(tmp_path: Path) -> None:
    assert budgetml("run", "--help", cwd=tmp_path).returncode == 0
    bare = budgetml(cwd=tmp_path)
    assert "Commands" in bare.stdout + bare.stderr and "Traceback" not in bare.stderr


def test_tables_printed_to_a_pipe_keep_whole_names(tmp_path: Path) -> None:
    """Off a terminal rich assumed 80 columns and cut names ("qwen2.5-coder-0…")."""
    from budgetml.llm.model_registry import REGISTRY

    models = budgetml("models", "list", cwd=tmp_path, env={"COLUMNS": "40"})
    assert models.returncode == 0, models.stderr
    for name in REGISTRY:
        assert name in models.stdout
    tasks = budgetml("tasks", cwd=tmp_path, env={"COLUMNS": "40"})
    for output in (models.stdout, tasks.stdout):
        assert "…" not in output
    for name in builtin_task_names():
        assert name in tasks.stdout


def test_the_output_console_never_cuts_a_cell_off_a_terminal() -> None:
    import io

    from rich.table import Table

    from budgetml.console import output_console

    stream = io.StringIO()
    long_value = "workspace/" + "x" * 300 + "/end.gguf"
    table = Table("name", "path")
    table.add_row("qwen2.5-coder-0.5b-instruct", long_value)
    output_console(file=stream).print(table)
    assert long_value in stream.getvalue() and "…" not in stream.getvalue()
