"""Runs `budgetml run` as a real process, kills its process group, resumes it, and compares
what the run left with an uninterrupted run's."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from budgetml.trace import LlmCall, StepDone, of_kind, read_events
from tests.scripted_settings import EVERY_ACTION
from tests.test_run import reply

SECRET_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")
MAX_STEPS = 5
SCRIPT_SECONDS = 2.0
TRAINED = f"""import pathlib, time
pathlib.Path("started").write_text("yes")
time.sleep({SCRIPT_SECONDS})
accuracy = 0.9
print(f"validation accuracy: {{accuracy}}")
open("submission.csv", "w").write(str(accuracy))
"""
PLANNER = [
    reply("look", "List Files", {"dir_path": "."}),
    reply("edit", "Write File", {"file_name": "train.py", "content": TRAINED}),
    reply("think", "Reflection", {"things_to_reflect_on": "is a higher accuracy enough?"}),
    reply("run", "Execute Script", {"script_name": "train.py"}),
    reply("done", "Final Answer", {"final_answer": "accuracy 0.9"}),
]
WORKER = "Yes: 0.9 against 0.6 is far more than 10% better."
MODEL = "openai/test-model"
PRICE = {"input": 100.0, "output": 200.0}
SUMMARY_KEYS = (
    "status",
    "steps",
    "baseline",
    "score",
    "improvement",
    "success",
    "cost_usd",
    "cost_usd_free_tier",
    "spent_usd",
    "tokens",
    "escalations",
    "expert_calls",
    "format_failures",
    "final_answer",
)


def server_config(folder: Path, base_url: str) -> Path:
    """The run's config: every role on the loopback server, priced so that cost is not 0."""
    config = {
        "planner": [{"model": MODEL, "api_base": base_url, "retries": 1, "max_tokens": 300}],
        "max_steps": MAX_STEPS,
        "prices": {MODEL: PRICE},
        **EVERY_ACTION,
    }
    path = folder / "server.yaml"
    path.write_text(json.dumps(config))
    return path


def scripted_config(folder: Path) -> Path:
    """The same trajectory from a scripted model (fixed replies in call order, not an LLM)."""
    script = folder / "trajectory.json"
    script.write_text(json.dumps([*PLANNER[:3], WORKER, *PLANNER[3:]]))
    model = f"scripted:{script}"
    config = {
        "planner": [{"model": model, "retries": 1}],
        "max_steps": MAX_STEPS,
        "prices": {model: PRICE},
        **EVERY_ACTION,
    }
    path = folder / "scripted.yaml"
    path.write_text(json.dumps(config))
    return path


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in SECRET_VARS}


def start(task: Path, config: Path, run_dir: Path) -> subprocess.Popen[bytes]:
    """`budgetml run` in its own process group, as a user's shell would start it."""
    log = (run_dir.parent / f"{run_dir.name}.log").open("ab")
    argv = ["run", str(task), "--config", str(config), "--out", str(run_dir)]
    return subprocess.Popen(
        [sys.executable, "-m", "budgetml", *argv],
        cwd=run_dir.parent,
        env=_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the whole group: no handler, no finally block, no flush runs."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def resume(run_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "budgetml", "run", "--resume", str(run_dir), *extra],
        cwd=run_dir.parent,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def start_resume(task: Path, run_dir: Path) -> subprocess.Popen[bytes]:
    """`budgetml run TASK --resume RUN_DIR`: naming the task lets a run killed before it
    recorded its start go on too."""
    log = (run_dir.parent / f"{run_dir.name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "budgetml", "run", str(task), "--resume", str(run_dir)],
        cwd=run_dir.parent,
        env=_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the run ended (code {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def outcome(run_dir: Path) -> dict[str, Any]:
    """What a finished run left: its summary's figures, actions, calls and workspace files."""
    summary = json.loads((run_dir / "summary.json").read_text())
    events = read_events(run_dir / "trace.jsonl")
    workspace = run_dir / "workspace"
    return {
        **{key: summary[key] for key in SUMMARY_KEYS},
        "actions": [(e.action, e.action_input) for e in of_kind(events, StepDone)],
        "calls": [(e.agent, e.reply) for e in of_kind(events, LlmCall)],
        "files": {
            p.relative_to(workspace).as_posix(): p.read_bytes()
            for p in sorted(workspace.rglob("*"))
            if p.is_file()
        },
    }


def tear_last_line(trace: Path) -> dict[str, Any]:
    """Cut the trace's last line in half, as a kill in the middle of writing it would; the
    event it held (empty if the kill had torn it already)."""
    data = trace.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    last = data[start:]
    trace.write_bytes(data[: start + len(last) // 2])
    try:
        event: dict[str, Any] = json.loads(last)
    except ValueError:
        return {}
    return event


def prompt_key(event: dict[str, Any]) -> str:
    """An llm_call event's messages as the server keys them."""
    return json.dumps(event.get("messages"), sort_keys=True)


def copy_task(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target
