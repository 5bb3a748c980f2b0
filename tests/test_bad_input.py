"""Bad input everywhere: a malformed task, config, model name or price is one specific line on
stderr with exit code 1 (never a traceback); a malformed model reply or an unreadable file is a
handled failure or observation, and the run goes on or ends with a recorded status."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from budgetml.cli import main
from budgetml.config import ModelEntry, RunConfig
from budgetml.env.actions import ACTIONS, ActionContext, execute
from budgetml.env.task import load_task
from budgetml.run import start_run
from budgetml.trace import LlmCall, of_kind, read_events
from tests.scripted_settings import EVERY_ACTION, EVERY_ACTION_YAML
from tests.test_run import reply

ACTION = {a.name: a for a in ACTIONS}
FINAL = reply("done", "Final Answer", {"final_answer": "done"})


def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cwd: Path, *args: str
) -> tuple[int, str, str]:
    """The `budgetml` entry point, in-process: (exit code, stdout, stderr)."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["budgetml", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    out, err = capsys.readouterr()
    code = stopped.value.code
    return code if isinstance(code, int) else 1, out, err


def assert_one_line_error(result: tuple[int, str, str], *needles: str) -> None:
    code, out, err = result
    assert "Traceback" not in out + err
    assert code == 1, out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture
def scripted(tmp_path: Path) -> Path:
    """A config whose planner answers Final Answer at once (a scripted model, not an LLM)."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps([FINAL]))
    config = tmp_path / "scripted.yaml"
    config.write_text(f"planner: [{{model: 'scripted:{script}', retries: 1}}]\n{EVERY_ACTION_YAML}")
    return config


DEEP = "planner: " + "[" * 3000 + "]" * 3000


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("max_steps: -3", "max_steps: Input should be greater than or equal to 1"),
        ("max_steps: lots", "max_steps: Input should be a valid integer"),
        ("lifelines: -1", "lifelines"),
        ("colour: blue", "colour: unknown key"),
        ("temperature: {planner: 9}", "temperature.planner"),
        ("prices: {a: {input: -1, output: 1}}", "prices.a.input"),
        ("prices: {a: {input: .nan, output: 1}}", "finite number"),
        ("prices: {a: {input: 1, output: .inf}}", "finite number"),
        ("prices: {a: 5}", "prices.a"),
        ("budget_usd: .inf", "budget_usd: Input should be a finite number"),
        ("budget_usd: -2", "budget_usd"),
        ("planner: []", "planner"),
        ("planner: gpt-4o", "planner"),
        ("planner: [{model: '  '}]", "the model name is empty"),
        ('planner: [{model: "a\\nb"}]', "control characters"),
        ("planner: [{model: a, api_base: 'localhost:8080'}]", "http:// or https:// URL"),
        ("planner: [{model: a, retries: 0}]", "planner.0.retries"),
        ("planner: [{model: a, max_tokens: -5}]", "planner.0.max_tokens"),
        ("[1, 2]", "must be a YAML mapping of settings, got list"),
        ("planner: [a", "is not valid YAML"),
        (DEEP, "nested too deeply"),
    ],
)
def test_a_malformed_config_is_one_line(
    text: str,
    needle: str,
    mlab_task: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    whole = text.startswith(("planner", "["))
    (tmp_path / "bad.yaml").write_text(text if whole else f"planner: [{{model: a}}]\n{text}")
    result = cli(capsys, monkeypatch, tmp_path, "run", str(mlab_task), "--config", "bad.yaml")
    assert_one_line_error(result, "bad.yaml", needle)
    assert not (tmp_path / "runs").exists()


def test_a_binary_or_folder_config_is_one_line(
    mlab_task: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    result = cli(capsys, monkeypatch, tmp_path, "run", str(mlab_task), "--config", "binary.yaml")
    assert_one_line_error(result, "binary.yaml is not valid YAML")
    (tmp_path / "folder.yaml").mkdir()
    result = cli(capsys, monkeypatch, tmp_path, "run", str(mlab_task), "--config", "folder.yaml")
    assert_one_line_error(result, "folder.yaml is a folder")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model", ""], "the model name is empty"),
        (["--model", "   "], "the model name is empty"),
        (["--model", "gpt\n4"], "control characters"),
        (["--model", "m", "--api-base", "not a url"], "http:// or https:// URL"),
        (["--model", "scripted:no-such-script.json"], "scripted model file 'no-such-script.json'"),
        (["--model", "local/no-such-model"], "unknown local model 'no-such-model'"),
        (["--model", "no-such-provider/model-xyz"], "no known price for model"),
        (["--api-base", "http://127.0.0.1:1/v1"], "--api-base needs --model"),
    ],
)
def test_a_bad_model_name_is_one_line(
    args: list[str],
    needle: str,
    mlab_task: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = cli(capsys, monkeypatch, tmp_path, "run", str(mlab_task), *args)
    assert_one_line_error(result, needle)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda t: shutil.rmtree(t / "env"), "env is missing"),
        (lambda t: (t / "scripts/eval.py").unlink(), "scripts/eval.py is missing"),
        (lambda t: (t / "scripts/research_problem.txt").write_text("  \n"), "is empty"),
        (lambda t: (t / "task.yaml").write_text("baseline: high\n"), "baseline"),
        (lambda t: (t / "task.yaml").write_text("colour: 1\n"), "colour: unknown key"),
        (lambda t: (t / "task.yaml").write_text("- a list\n"), "must be a mapping"),
        (lambda t: (t / "task.yaml").write_text("script_timeout_s: -1\n"), "script_timeout_s"),
    ],
)
def test_a_malformed_task_folder_is_one_line(
    damage: object,
    needle: str,
    mlab_task: Path,
    scripted: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    damage(mlab_task)  # type: ignore[operator]
    args = ("run", str(mlab_task), "--config", str(scripted), "--out", "r")
    assert_one_line_error(cli(capsys, monkeypatch, tmp_path, *args), needle)


def test_a_task_whose_env_is_a_file_is_one_line(
    mlab_task: Path,
    scripted: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.rmtree(mlab_task / "env")
    (mlab_task / "env").write_text("not a folder")
    args = ("run", str(mlab_task), "--config", str(scripted), "--out", "r")
    assert_one_line_error(cli(capsys, monkeypatch, tmp_path, *args), "env")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--resume", "nowhere"], "nowhere is not a run directory: no such folder"),
        (["--resume", "empty"], "holds no run to resume"),
        (["--resume", "mangled"], "line 1 does not read as a BudgetML run_start event (task"),
        (["--resume", "killed", "--max-steps", "2"], "max_steps differs"),
        (["--resume", "killed", "--seed", "3"], "leave --seed out"),
        (["--resume", "killed", "--out", "elsewhere"], "leave --out out"),
        (["--resume", "killed", "--goal", "g", "--eval", "e"], "--goal, --eval and --metric"),
        (["--resume", "killed", "--lower-is-better"], "leave the direction flag out"),
        ([], "name the task to run"),
        (["TASK", "--config", "SCRIPTED", "--out", "killed"], "continue it with --resume killed"),
        (["TASK", "--config", "SCRIPTED", "--out", "a-file"], "is a file"),
    ],
)
def test_bad_resume_and_run_directory_options_are_one_line(
    args: list[str],
    needle: str,
    mlab_task: Path,
    scripted: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("x")
    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / "config.yaml").write_text(RunConfig(planner=[ModelEntry(model="m")]).to_yaml())
    (killed / "trace.jsonl").write_text(
        json.dumps(
            {
                "event": "run_start",
                "task": "mlab-style",
                "task_dir": str(mlab_task),
                "metric": "score",
                "config": "c",
                "seed": 0,
                "higher_is_better": True,
            }
        )
        + "\n"  # fmt: skip
    )
    mangled = tmp_path / "mangled"
    shutil.copytree(killed, mangled)
    (mangled / "trace.jsonl").write_text('{"event": "run_start"}\n')  # edited by hand
    named = {"TASK": str(mlab_task), "SCRIPTED": str(scripted)}
    args = [named.get(a, a) for a in args]
    assert_one_line_error(cli(capsys, monkeypatch, tmp_path, "run", *args), needle)


def test_resuming_a_finished_run_says_so_and_succeeds(
    mlab_task: Path,
    scripted: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = ("run", str(mlab_task), "--config", str(scripted), "--out", "r")
    assert cli(capsys, monkeypatch, tmp_path, *args)[0] == 0
    before = (tmp_path / "r/trace.jsonl").read_bytes()
    code, out, err = cli(capsys, monkeypatch, tmp_path, "run", "--resume", "r")
    assert (code, err) == (0, "")
    assert [line for line in out.splitlines() if line] == [
        "r has already finished (status completed); nothing to resume"
    ]
    assert (tmp_path / "r/trace.jsonl").read_bytes() == before


def test_the_budgetml_command_prints_one_line_for_a_bad_config(
    mlab_task: Path, tmp_path: Path
) -> None:
    """The command itself in its own process, as a user runs it."""
    (tmp_path / "bad.yaml").write_text("planner: [{model: a}]\nmax_steps: -1\n")
    result = subprocess.run(
        [sys.executable, "-m", "budgetml", "run", str(mlab_task), "--config", "bad.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_one_line_error((result.returncode, result.stdout, result.stderr), "max_steps")


def run_replies(tmp_path: Path, mlab_task: Path, replies: list[str], retries: int = 3) -> Path:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps(replies))
    config = RunConfig(
        planner=[ModelEntry(model=f"scripted:{script}", retries=retries)],
        max_steps=3,
        **EVERY_ACTION,
    )
    run_dir = tmp_path / "run"
    start_run(load_task(mlab_task), config, config_label="t", run_dir=run_dir)
    return run_dir


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("", "Your reply was empty"),
        ("\x00\x01\x02\ufffd\x7f" * 1000, 'no "Action:" line'),
        ("x" * 5_000_000, 'no "Action:" line'),
        ("Thought: I should look again.\n" * 200_000, 'no "Action:" line'),
        ("Action: List Files\n" * 300_000, "names no action"),
        ("Action: List Files\nAction Input: " + "[" * 100_000, "JSON object"),
    ],
    ids=["empty", "binary", "5MB", "repeated-thought", "repeated-action", "deep-json"],
)
def test_unusable_replies_fail_the_format_and_end_the_run_with_a_status(
    bad: str, problem: str, mlab_task: Path, tmp_path: Path
) -> None:
    run_dir = run_replies(tmp_path, mlab_task, [bad] * 3)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "error" and summary["format_failures"] == 3
    assert "3 tries" in summary["error"] and problem in summary["error"]
    calls = of_kind(read_events(run_dir / "trace.jsonl"), LlmCall)
    assert [c.reply for c in calls] == [bad] * 3  # nothing is lost
    # a retry repeats the unusable reply cut to its start and end, not all of it
    assert all(sum(len(m["content"]) for m in c.messages) < 100_000 for c in calls)


def test_replies_with_nul_bytes_and_lone_surrogates_still_act(
    mlab_task: Path, tmp_path: Path
) -> None:
    write = (
        'Thought: t\nAction: Write File\nAction Input: {"file_name": "out\\ud800.txt", '
        '"content": "a\\u0000b\\udc80c"}'
    )
    run_dir = run_replies(tmp_path, mlab_task, [write, FINAL], retries=1)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    written = run_dir / "workspace" / "out\ufffd.txt"
    assert written.read_text() == "a\x00b\ufffdc"


def act(context: ActionContext, name: str, **args: object) -> str:
    return execute(ACTION[name], context, args, limit=2_000)


def test_a_script_printing_invalid_bytes_is_an_observation(context: ActionContext) -> None:
    script = "import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe\\x00 \\x1b[2J end\\n' * 3)\n"
    (context.workspace.root / "bytes.py").write_text(script)
    observation = act(context, "Execute Script", script_name="bytes.py")
    assert "ok \ufffd\ufffd\x00" in observation and "end" in observation
    observation.encode("utf-8")  # it can go into a prompt


def test_a_script_printing_megabytes_keeps_its_start_and_end(context: ActionContext) -> None:
    (context.workspace.root / "loud.py").write_text(
        "print('FIRST')\nprint('x' * 5_000_000)\nprint('LAST')\n"
    )
    observation = act(context, "Execute Script", script_name="loud.py")
    assert "FIRST" in observation and "LAST" in observation and len(observation) < 3_000


@pytest.mark.parametrize(
    "data",
    [b"\x00" * 100, bytes(range(128, 256)) * 50, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20],
    ids=["nul", "high-bytes", "png"],
)
def test_binary_files_are_refused_by_read_file_and_inspect_lines(
    data: bytes, context: ActionContext
) -> None:
    (context.workspace.root / "blob.bin").write_bytes(data)
    observation = act(context, "Read File", file_name="blob.bin")
    assert f"binary file of {len(data):,} bytes" in observation
    observation = act(
        context,
        "Inspect Script Lines",
        script_name="blob.bin",
        start_line_number=1,
        end_line_number=5,
    )
    assert observation == "Error: blob.bin is a binary file, not lines of text"


def test_text_that_is_not_utf8_is_shown_with_replacement_characters(
    context: ActionContext,
) -> None:
    (context.workspace.root / "latin1.txt").write_bytes("café crème\nnaïve\n".encode("latin-1"))
    assert act(context, "Read File", file_name="latin1.txt") == "caf\ufffd cr\ufffdme\nna\ufffdve\n"


def test_a_huge_file_is_read_by_its_start_and_end(context: ActionContext) -> None:
    with (context.workspace.root / "big.csv").open("w") as handle:
        handle.write("FIRST LINE\n")
        handle.write("1,2,3\n" * 5_000_000)
        handle.write("LAST LINE\n")
    observation = act(context, "Read File", file_name="big.csv")
    assert observation.startswith("big.csv is 30,000,021 bytes; only its start and end are shown")
    assert "FIRST LINE" in observation and "LAST LINE" in observation
    observation = act(
        context,
        "Inspect Script Lines",
        script_name="big.csv",
        start_line_number=1,
        end_line_number=2,
    )
    assert "the file ends at line 5000002" in observation and "1: FIRST LINE" in observation


def test_an_endless_line_is_cut_by_inspect_script_lines(context: ActionContext) -> None:
    (context.workspace.root / "min.py").write_text("x = 1\n" + "y=[" + "1," * 3_000_000 + "]\n")
    observation = act(
        context,
        "Inspect Script Lines",
        script_name="min.py",
        start_line_number=1,
        end_line_number=3,
    )
    assert "1: x = 1" in observation and "the rest of this long line is cut" in observation
    assert "the file ends at line 2" in observation


def test_a_file_name_that_is_not_utf8_is_listed_safely(context: ActionContext) -> None:
    (context.workspace.root / bytes.decode(b"caf\xe9.txt", "utf-8", "surrogateescape")).touch()
    observation = act(context, "List Files", dir_path=".")
    assert "caf\ufffd.txt" in observation
    observation.encode("utf-8")
