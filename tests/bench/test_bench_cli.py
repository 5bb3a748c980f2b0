"""Mistakes on the `budgetml bench` command line are one line on stderr, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.conftest import SweepInputs


def bench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "budgetml", "bench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--tasks", "no-such-task", "--configs", "demo"], "no task 'no-such-task'"),
        (["--tasks", "all", "--configs", "no-such-config"], "no preset named 'no-such-config'"),
        (["--tasks", "all", "--configs", "demo", "--ray-address", "auto"], "needs --executor ray"),
    ],
)
def test_a_mistake_is_one_line(args: list[str], needle: str, tmp_path: Path) -> None:
    result = bench(*args, "--out", str(tmp_path / "sweep"), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0], result.stderr


def test_crashed_runs_give_exit_code_1_and_say_how_to_retry(
    sweep_inputs: SweepInputs, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.yaml"
    missing.write_text('planner: [{model: "scripted:/no/such/replies.json"}]\n')
    result = bench(
        "--tasks", sweep_inputs.tasks[0], "--configs", str(missing), "--out", "sweep", cwd=tmp_path
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "missing · seed 0: crashed: scripted model file" in result.stderr
    assert "1 run(s) crashed" in result.stderr and "rerun the same command" in result.stderr
    assert "– (n=0, 1 crashed)" in (tmp_path / "sweep" / "table.md").read_text()
